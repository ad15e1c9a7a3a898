// The log formats: real pino records through the pretty stream, and the choice between pretty and JSON.
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { createLogger, prettyStream, wantsPretty } from './logFormat.ts';

/** Everything written to a stream that claims to be (or not to be) a terminal. */
function capture(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean };
  out.isTTY = isTTY;
  let text = '';
  out.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  return { out: out as unknown as NodeJS.WriteStream, text: () => text };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes are what is looked for.
const ANSI = /\u001b\[\d+m/gu;

describe('log format', () => {
  it('writes one readable line per record, with level, component, message and fields', async () => {
    const { out, text } = capture(false);
    const log = pino({ level: 'info' }, prettyStream(out, false)).child({ component: 'hub' });
    log.info({ clients: 3, address: '127.0.0.1', reason: 'transport close' }, 'client left');
    log.warn({ camera: 'door' }, 'camera stalled');
    log.debug('not shown at info');
    await tick();
    const lines = text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[hub\] client left clients=3 address=127\.0\.0\.1 reason="transport close"$/u,
    );
    expect(lines[1]).toMatch(/ WARN {2}\[hub door\] camera stalled$/u);
    expect(text()).not.toContain('{');
  });

  it("colours a terminal's lines and puts an error's stack under its line", async () => {
    const { out, text } = capture(true);
    const log = pino({ level: 'info' }, prettyStream(out, true));
    log.error({ err: new Error('disk full') }, 'storing failed');
    await tick();
    expect(text()).toMatch(ANSI);
    const plain = text().replace(ANSI, '');
    const [first, second] = plain.split('\n');
    expect(first).toMatch(/ ERROR storing failed err="disk full"$/u);
    expect(second).toMatch(/^ {4}Error: disk full$/u);
  });

  it('is JSON off a terminal or with LOG_FORMAT=json, pretty on a terminal or when asked', async () => {
    const cfg = (LOG_FORMAT?: string) => loadConfig(LOG_FORMAT ? { LOG_FORMAT } : {});
    expect(cfg().logFormat).toBe('auto');
    expect(cfg('json').logFormat).toBe('json');
    expect(() => cfg('fancy')).toThrow(/LOG_FORMAT \(logFormat\): must be one of auto, pretty, json/u);

    expect(wantsPretty('auto', { isTTY: true })).toBe(true);
    expect(wantsPretty('auto', { isTTY: false })).toBe(false);
    expect(wantsPretty('json', { isTTY: true })).toBe(false);
    expect(wantsPretty('pretty', {})).toBe(true);

    const pipe = capture(false);
    createLogger({ logLevel: 'info', logFormat: 'auto' }, pipe.out).info({ n: 1 }, 'to a pipe');
    const tty = capture(true);
    createLogger({ logLevel: 'info', logFormat: 'json' }, tty.out).info({ n: 2 }, 'asked for json');
    const pretty = capture(true);
    createLogger({ logLevel: 'info', logFormat: 'auto' }, pretty.out, { NO_COLOR: '1' }).info({ n: 3 }, 'terminal');
    await tick();
    expect(JSON.parse(pipe.text())).toMatchObject({ level: 30, msg: 'to a pipe', n: 1 });
    expect(JSON.parse(tty.text())).toMatchObject({ msg: 'asked for json', n: 2 });
    expect(pretty.text()).toMatch(/ INFO {2}terminal n=3\n$/u);
    expect(pretty.text()).not.toMatch(ANSI); // NO_COLOR
  });
});
