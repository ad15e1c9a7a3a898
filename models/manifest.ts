// Where converted models live and the manifest that says what produced them.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const BUILD_DIR = fileURLToPath(new URL('./build/', import.meta.url));
export const MANIFEST_PATH = `${BUILD_DIR}manifest.json`;

const ModelRecord = z.object({
  file: z.string(),
  sha256: z.string(),
  bytes: z.number(),
  source: z.string(),
  /** Absent for graphs facerec generates without weights. */
  sourceSha256: z.string().optional(),
});

export const Manifest = z.object({
  converterVersion: z.string(),
  package: z.object({ spec: z.string(), integrity: z.string() }),
  builtAt: z.string(),
  models: z.record(z.string(), ModelRecord),
});
export type Manifest = z.infer<typeof Manifest>;
export type ModelRecord = z.infer<typeof ModelRecord>;

export class ModelsMissingError extends Error {
  override name = 'ModelsMissingError';
}

export function readManifest(): Manifest | undefined {
  if (!existsSync(MANIFEST_PATH)) return undefined;
  const parsed = Manifest.safeParse(JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

/** The path of a built model, or a clear error saying how to build it. */
export function modelPath(name: string): string {
  const record = readManifest()?.models[name];
  if (!record) {
    throw new ModelsMissingError(
      `model "${name}" has not been built: run \`npm run models:build\` (it runs on \`npm install\` too)`,
    );
  }
  return `${BUILD_DIR}${record.file}`;
}
