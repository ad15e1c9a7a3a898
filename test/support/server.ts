// A real facerec server for a test file: temporary facebank folder and SQLite database (removed afterwards),
// an ephemeral port on 127.0.0.1, and a small CPU inference pool. Test photos are copied only into the
// temporary facebank folder, never anywhere else.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { z } from 'zod';
import { type Config, ConfigSchema } from '../../server/config.ts';
import type { Runtime } from '../../server/runtime.ts';
import { type RunningServer, startServer } from '../../server/server.ts';

export type ConfigOverrides = Partial<z.input<typeof ConfigSchema>>;

/** An image copied into `<facebank>/<person>/<file ?? basename(src)>` before the server starts. */
export interface FacebankSeed {
  person: string;
  src: string;
  file?: string;
}

export interface TestServerOptions {
  config?: ConfigOverrides;
  facebank?: FacebankSeed[];
  /** Print log records at this level and above to stderr (all records are kept in `logs` either way). */
  printLevel?: 'warn' | 'error' | 'silent';
}

/** One pino record as written (level is pino's number: 30 info, 40 warn, 50 error). */
export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface TestServer {
  /** The base URL, e.g. http://127.0.0.1:41234 (a new port after each restart). */
  readonly url: string;
  readonly runtime: Runtime;
  readonly config: Config;
  readonly dirs: { root: string; facebank: string; database: string };
  /** Every log record since the first start, across restarts. */
  readonly logs: LogRecord[];
  /**
   * Closes the server and starts it again on the same folder and database. `overrides` (if any) are applied on
   * top of the current config and stay for later restarts.
   */
  restart(overrides?: ConfigOverrides): Promise<void>;
  /** Closes the server and removes the temporary folder; safe to call twice. */
  close(): Promise<void>;
}

const PRINT_LEVELS = { warn: 40, error: 50, silent: Number.POSITIVE_INFINITY } as const;

/** Servers not yet closed; whatever a test file leaves running is closed after the file. */
const open = new Set<TestServer>();
afterAll(async () => {
  await Promise.all([...open].map((s) => s.close()));
});

/** Starts a server now; the caller closes it (see `useTestServer` for vitest hooks). */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const root = await mkdtemp(join(tmpdir(), 'facerec-test-'));
  const dirs = { root, facebank: join(root, 'people'), database: join(root, 'facerec.db') };
  try {
    await mkdir(dirs.facebank);
    for (const seed of options.facebank ?? []) {
      await mkdir(join(dirs.facebank, seed.person), { recursive: true });
      await copyFile(seed.src, join(dirs.facebank, seed.person, seed.file ?? basename(seed.src)));
    }
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }

  const logs: LogRecord[] = [];
  const printAt = PRINT_LEVELS[options.printLevel ?? 'warn'];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const record = JSON.parse(line) as LogRecord;
        logs.push(record);
        if (record.level >= printAt) process.stderr.write(`[test server] ${line}\n`);
      }
      done();
    },
  });
  // Synchronous writes into memory: records are in `logs` as soon as the call that logged them returns.
  const logger = pino({ level: 'info' }, sink);

  const configure = (overrides: ConfigOverrides | undefined): Config =>
    ConfigSchema.parse({
      host: '127.0.0.1',
      port: 0,
      facebankDir: dirs.facebank,
      databasePath: dirs.database,
      poolSize: 2,
      intraOpThreads: 1,
      executionProvider: 'cpu',
      logLevel: 'info',
      ...options.config,
      ...overrides,
    });

  let extra: ConfigOverrides = {};
  let config = configure(extra);
  let current: RunningServer | undefined;
  try {
    current = await startServer(config, logger);
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  const running = (): RunningServer => {
    if (current === undefined) throw new Error('the test server is not running');
    return current;
  };

  const server: TestServer = {
    get url() {
      return running().url;
    },
    get runtime() {
      return running().runtime;
    },
    get config() {
      return config;
    },
    dirs,
    logs,
    async restart(overrides?: ConfigOverrides) {
      const old = running();
      current = undefined;
      await old.close();
      extra = { ...extra, ...overrides };
      config = configure(extra);
      current = await startServer(config, logger);
    },
    close() {
      closing ??= (async () => {
        const s = current;
        current = undefined;
        try {
          await s?.close();
        } finally {
          await rm(root, { recursive: true, force: true });
          open.delete(server);
        }
      })();
      return closing;
    },
  };
  open.add(server);
  return server;
}

/**
 * For a `describe` block (or a file): starts the server in `beforeAll` and closes it, removing its folder, in
 * `afterAll`. The returned object forwards to the running server; use it only inside tests and hooks.
 */
export function useTestServer(options: TestServerOptions = {}): TestServer {
  let server: TestServer | undefined;
  const get = (): TestServer => {
    if (server === undefined) throw new Error('useTestServer: the server has not started (use it inside a test)');
    return server;
  };
  beforeAll(async () => {
    server = await startTestServer(options);
  });
  afterAll(async () => {
    await server?.close();
  });
  return {
    get url() {
      return get().url;
    },
    get runtime() {
      return get().runtime;
    },
    get config() {
      return get().config;
    },
    get dirs() {
      return get().dirs;
    },
    get logs() {
      return get().logs;
    },
    restart: (overrides) => get().restart(overrides),
    close: () => get().close(),
  };
}
