// The real server as a child process (node + tsx running server/main.ts), for tests that kill it the hard way
// and for scripts that measure it apart from their own load (its RSS is its own). It runs in its own process
// group, so a kill takes its ffmpeg decoders down with it, and the group is killed if this process exits first:
// nothing it starts outlives the caller. Its pino lines are parsed as they come.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ENV_KEYS } from '../../server/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../server/main.ts', import.meta.url));
/** `npm start`'s launcher: the allocator the server is measured with (README, Memory). */
export const WITH_ALLOCATOR = fileURLToPath(new URL('../../bin/with-allocator.sh', import.meta.url));
/** How many of the last output lines are kept for failure messages. */
const TAIL_LINES = 200;
const STOP_TIMEOUT_MS = 30_000;

/** One pino record of the server (level: 20 debug, 30 info, 40 warn, 50 error, 60 fatal). */
export interface ServerLogLine {
  level: number;
  time: number;
  msg: string;
  /** The camera input a streams/ line is about (redacted URL or file path). */
  input?: string;
  raw: string;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type ServerOptions = {
  /** Environment variables for the server, over the calling shell's (in config-file mode, over what is left). */
  env?: Record<string, string>;
  /** Sees each pino line of stdout as it comes. */
  onLine?: (line: ServerLogLine) => void;
  /**
   * Launch as `npm start` does, through bin/with-allocator.sh (jemalloc where installed): for benchmarks of memory.
   * The script execs, so the pid is still the server's.
   */
  withAllocator?: boolean;
} & (
  | { config?: undefined }
  | {
      /**
       * Config-file mode: `config` (camelCase keys, as the file takes them) is written to `configDir` and is the
       * only configuration: facerec variables of the calling shell are not passed on.
       */
      config: Record<string, unknown>;
      configDir: string;
    }
);

export interface ServerProcess {
  readonly pid: number;
  /** Resolves with the base URL once the server logs that it listens; rejects if it exits first. */
  readonly listening: Promise<string>;
  /** Resolves once the process has exited (however). */
  readonly exited: Promise<ServerExit>;
  /** The exit, once it happened. */
  readonly exit: ServerExit | undefined;
  /** Lines at level warn (40) and above, in order (all of them: a soak sums them up at the end). */
  readonly problems: ServerLogLine[];
  /** The last lines of stdout and stderr, interleaved as they came, for failure messages. */
  tail(lines?: number): string[];
  /**
   * The base URL once listening; if the server exits first or does not listen within `timeoutMs`, its group is
   * killed and this rejects with the reason and the server's last lines.
   */
  listeningWithin(timeoutMs: number): Promise<string>;
  /** SIGKILLs the server and everything it started, and waits for the server to be gone. */
  kill(): Promise<void>;
  /**
   * SIGTERM and wait (SIGKILL of the group after `timeoutMs`); then whatever it started and did not stop goes
   * with the group. Resolves with how it exited.
   */
  stop(timeoutMs?: number): Promise<ServerExit & { forced: boolean }>;
}

/** Starts the server on 127.0.0.1, an ephemeral port, log level info unless `options` say otherwise. */
export function spawnServer(options: ServerOptions = {}): ServerProcess {
  let env: NodeJS.ProcessEnv;
  if (options.config === undefined) {
    // JSON logs whatever the caller's environment says: the lines are read as pino records.
    env = { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...options.env };
  } else {
    const configFile = join(options.configDir, 'facerec.config.json');
    const config = { host: '127.0.0.1', port: 0, logLevel: 'info', logFormat: 'json', ...options.config };
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    env = { ...process.env };
    for (const name of Object.keys(ENV_KEYS)) delete env[name];
    env = { ...env, ...options.env, CONFIG_FILE: configFile };
  }

  const node = [process.execPath, '--import', 'tsx', MAIN];
  const [command, ...args] = options.withAllocator ? ['sh', WITH_ALLOCATOR, ...node] : node;
  const child: ChildProcess = spawn(command!, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server process did not start');
  const killGroup = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);

  const problems: ServerLogLine[] = [];
  const output: string[] = [];
  const keep = (line: string) => {
    output.push(line);
    if (output.length > 2 * TAIL_LINES) output.splice(0, output.length - TAIL_LINES);
  };
  let exit: ServerExit | undefined;
  const exited = new Promise<ServerExit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      process.off('exit', killGroup);
      resolve(exit);
    }),
  );
  createInterface({ input: child.stderr! }).on('line', keep);
  const listening = new Promise<string>((resolve, reject) => {
    void exited.then(({ code, signal }) =>
      reject(new Error(`the server exited before listening (code ${code}, signal ${signal})`)),
    );
    createInterface({ input: child.stdout! }).on('line', (raw) => {
      keep(raw);
      let record: { level?: unknown; time?: unknown; msg?: unknown; url?: unknown; input?: unknown };
      try {
        record = JSON.parse(raw);
      } catch {
        return; // not pino: kept in the tail only
      }
      const level = typeof record.level === 'number' ? record.level : 0;
      const msg = typeof record.msg === 'string' ? record.msg : '';
      const line: ServerLogLine = { level, time: typeof record.time === 'number' ? record.time : Date.now(), msg, raw };
      if (typeof record.input === 'string') line.input = record.input;
      if (level >= 40) problems.push(line);
      options.onLine?.(line);
      if (typeof record.url === 'string' && msg.includes('facerec listening on')) resolve(record.url);
    });
  });
  listening.catch(() => undefined);
  const tail = (lines = 30) => output.slice(-lines);

  return {
    pid,
    listening,
    exited,
    get exit() {
      return exit;
    },
    problems,
    tail,
    async listeningWithin(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the server did not listen within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        return await Promise.race([listening, hung]);
      } catch (err) {
        killGroup();
        await exited;
        throw new Error(`${(err as Error).message}\n${tail().join('\n')}`);
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      killGroup();
      await exited;
    },
    async stop(timeoutMs = STOP_TIMEOUT_MS) {
      if (exit) return { ...exit, forced: false };
      child.kill('SIGTERM');
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        killGroup();
      }, timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      killGroup();
      return { ...result, forced };
    },
  };
}
