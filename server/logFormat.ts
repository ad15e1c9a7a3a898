// Where the server's pino records go: JSON lines for machines (a pipe, a file, a log collector), or one readable,
// coloured line per record for a person at a terminal. Our own formatter rather than pino-pretty: it is one small
// module, runs in-process (no worker thread per logger) and adds no dependency.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino's level numbers → the label shown and its ANSI colour. */
const LEVELS: Readonly<Record<number, readonly [label: string, colour: string]>> = {
  10: ['TRACE', '90'],
  20: ['DEBUG', '36'],
  30: ['INFO ', '32'],
  40: ['WARN ', '33'],
  50: ['ERROR', '31'],
  60: ['FATAL', '35'],
};
/** Fields every record has, shown in their own places (or not at all: pid and host say nothing at a terminal). */
const PLACED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'component', 'camera', 'err']);

const paint = (on: boolean, code: string, s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/u.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v) ?? String(v);
}

function clock(time: unknown): string {
  const d = typeof time === 'number' ? new Date(time) : new Date();
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * One pino record as a line: `12:03:04.567 INFO  [hub] message key=value …`. An error's stack, when the record
 * has one, follows on indented lines: it is what an operator needs from an unexpected failure.
 */
export function formatRecord(record: Record<string, unknown>, colour: boolean): string {
  const [label, code] = LEVELS[Number(record.level)] ?? [String(record.level), '0'];
  const where = [record.component, record.camera].filter((p) => p !== undefined).join(' ');
  const fields = Object.entries(record)
    .filter(([k]) => !PLACED.has(k))
    .map(([k, v]) => `${paint(colour, '90', `${k}=`)}${value(v)}`);
  const err = record.err as { message?: unknown; stack?: unknown } | string | undefined;
  if (err !== undefined)
    fields.unshift(`${paint(colour, '90', 'err=')}${value(typeof err === 'string' ? err : err.message)}`);
  const parts = [
    paint(colour, '90', clock(record.time)),
    paint(colour, code, label),
    ...(where ? [paint(colour, '35', `[${where}]`)] : []),
    String(record.msg ?? ''),
    ...fields,
  ];
  const stack = typeof err === 'object' && typeof err.stack === 'string' ? err.stack : undefined;
  const line = parts.filter((p) => p !== '').join(' ');
  return stack ? `${line}\n${paint(colour, '90', stack.replace(/^/gmu, '    '))}` : line;
}

/** A stream pino writes JSON lines into, which writes them to `out` formatted. Lines that are not JSON pass as they are. */
export function prettyStream(out: NodeJS.WritableStream, colour: boolean): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      let text = '';
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          text += `${formatRecord(JSON.parse(line) as Record<string, unknown>, colour)}\n`;
        } catch {
          text += `${line}\n`;
        }
      }
      out.write(text);
      done();
    },
  });
}

/** Pretty when asked, or (`auto`) when `out` is a terminal; colours only on a terminal, and never with NO_COLOR. */
export function wantsPretty(format: LogFormat, out: { isTTY?: boolean }): boolean {
  return format === 'pretty' || (format === 'auto' && out.isTTY === true);
}

/** The server's logger, writing to stdout in the configured format. */
export function createLogger(
  o: { logLevel: pino.LevelWithSilent; logFormat: LogFormat },
  out: NodeJS.WriteStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): Logger {
  if (!wantsPretty(o.logFormat, out))
    return out === process.stdout ? pino({ level: o.logLevel }) : pino({ level: o.logLevel }, out);
  const colour = out.isTTY === true && (env.NO_COLOR ?? '') === '';
  return pino({ level: o.logLevel }, prettyStream(out, colour));
}
