// The building blocks of the config schema (config.ts). A setting is its zod schema together with what the
// README's table shows of it, built from one description: its default, limits and meaning are written once, as
// in Frigate's pydantic `Field(default, title, description, ge, le)`. Messages name the limit; config.ts adds
// the variable's name.
import { z } from 'zod';

export interface Setting<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  /** The default as the README shows it. */
  readonly shownDefault: string;
  /** The accepted values, in words ('' when any non-empty text goes). */
  readonly limits: string;
  readonly description: string;
  /** Settable from the environment as well as the config file. */
  readonly env: boolean;
}

interface Doc {
  description: string;
  /** For a default that is computed (e.g. the number of CPU cores) or absent. */
  shownDefault?: string;
}

const code = (v: unknown) => `\`${String(v)}\``;

/** A whole number from `min` to `max`. */
export function integer(
  o: Doc & { default: number; min: number; max: number },
): Setting<z.ZodDefault<z.ZodCoercedNumber>> {
  const schema = z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(o.min, `must be at least ${o.min}`)
    .max(o.max, `must be at most ${o.max}`);
  return {
    schema: schema.default(o.default),
    shownDefault: o.shownDefault ?? code(o.default),
    limits: `${o.min} to ${o.max}`,
    description: o.description,
    env: true,
  };
}

type Decimal = Doc & ({ min: number; above?: never } | { above: number; min?: never }) & { max: number };

function decimalSchema(o: Decimal): z.ZodCoercedNumber {
  const base = z.coerce.number({ error: 'must be a number' });
  const low =
    o.above === undefined ? base.min(o.min, `must be at least ${o.min}`) : base.gt(o.above, `must be above ${o.above}`);
  return low.max(o.max, `must be at most ${o.max}`);
}

function decimalLimits(o: Decimal): string {
  return o.above === undefined ? `${o.min} to ${o.max}` : `above ${o.above}, at most ${o.max}`;
}

/** A number in a range (`above` excludes its bound, `min` includes it). */
export function decimal(o: Decimal & { default: number }): Setting<z.ZodDefault<z.ZodCoercedNumber>> {
  return {
    schema: decimalSchema(o).default(o.default),
    shownDefault: o.shownDefault ?? code(o.default),
    limits: decimalLimits(o),
    description: o.description,
    env: true,
  };
}

/** A number in a range that may be left unset (what unset means is in `shownDefault`). */
export function optionalDecimal(o: Decimal & { shownDefault: string }): Setting<z.ZodOptional<z.ZodCoercedNumber>> {
  return {
    schema: decimalSchema(o).optional(),
    shownDefault: o.shownDefault,
    limits: decimalLimits(o),
    description: o.description,
    env: true,
  };
}

const BOOL = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')], {
  error: 'must be true or false (or 1, 0)',
});

export function flag(o: Doc & { default: boolean }): Setting<z.ZodDefault<typeof BOOL>> {
  return {
    schema: BOOL.default(o.default),
    shownDefault: code(o.default),
    limits: '`true`, `false`',
    description: o.description,
    env: true,
  };
}

/** Non-empty text. */
export function text(o: Doc & { default: string }): Setting<z.ZodDefault<z.ZodString>> {
  return {
    schema: z.string().min(1, 'must not be empty').default(o.default),
    shownDefault: o.shownDefault ?? code(o.default),
    limits: '',
    description: o.description,
    env: true,
  };
}

/** Text of at least `minLength` characters that may be left unset. */
export function optionalText(
  o: Doc & { minLength: number; shownDefault: string },
): Setting<z.ZodOptional<z.ZodString>> {
  return {
    schema: z.string().min(o.minLength, `must be at least ${o.minLength} characters`).optional(),
    shownDefault: o.shownDefault,
    limits: `${o.minLength}+ characters`,
    description: o.description,
    env: true,
  };
}

/** One of a few words. */
export function choice<const T extends readonly [string, ...string[]]>(o: Doc & { values: T; default: T[number] }) {
  const schema = z.enum(o.values, { error: `must be one of ${o.values.join(', ')}` });
  return {
    schema: schema.default(o.default as z.output<typeof schema>),
    shownDefault: code(o.default),
    limits: o.values.map(code).join(', '),
    description: o.description,
    env: true,
  } satisfies Setting;
}

/** A list only the config file can give (no environment variable). */
export function fileOnlyList<S extends z.ZodType>(
  o: Doc & { item: S; limits: string },
): Setting<z.ZodDefault<z.ZodArray<S>>> {
  return {
    schema: z.array(o.item).default([] as never),
    shownDefault: o.shownDefault ?? 'none',
    limits: o.limits,
    description: o.description,
    env: false,
  };
}

/** A URL with one of `schemes` that may be left unset. */
export function optionalUrl(
  o: Doc & { schemes: readonly string[]; shownDefault: string },
): Setting<z.ZodOptional<z.ZodString>> {
  const allowed = o.schemes.map((s) => `${s}://`);
  const schema = z.string().refine((v) => allowed.some((p) => v.startsWith(p) && URL.canParse(v)), {
    error: `must be a URL starting with ${allowed.join(', ')}`,
  });
  return {
    schema: schema.optional(),
    shownDefault: o.shownDefault,
    limits: allowed.map(code).join(', '),
    description: o.description,
    env: true,
  };
}

/** Letters, digits, `_` and `-` only: safe as an MQTT topic level and as part of an id. */
export function identifier(o: Doc & { default: string }): Setting<z.ZodDefault<z.ZodString>> {
  return {
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/u, 'must be letters, digits, _ and - only')
      .default(o.default),
    shownDefault: code(o.default),
    limits: 'letters, digits, `_`, `-`',
    description: o.description,
    env: true,
  };
}
