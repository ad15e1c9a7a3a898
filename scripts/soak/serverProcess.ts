// The soak's server: server/main.ts as a child process (so its RSS is its own, not the load generator's),
// configured by a temporary config file only (facerec variables of the calling shell are not passed on), in its
// own process group so that nothing it starts can outlive the soak. Its pino lines are parsed as they come:
// errors and warnings are kept for the report.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ENV_KEYS } from '../../server/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../server/main.ts', import.meta.url));
const START_TIMEOUT_MS = 180_000;
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

export interface SoakServer {
  readonly pid: number;
  readonly url: string;
  /** Lines at level warn (40) and above, in order. */
  readonly problems: ServerLogLine[];
  /** Lines that were not pino JSON (stderr, a crash trace). */
  readonly otherOutput: string[];
  /** The exit, once it happened. */
  readonly exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** SIGTERM and wait (SIGKILL of the group after 30 s); resolves with how it exited. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; forced: boolean }>;
}

/**
 * Writes `config` (camelCase keys, as the config file takes them) and starts the server on 127.0.0.1;
 * `onLine` sees each log line as it comes.
 */
export async function startSoakServer(
  dir: string,
  config: Record<string, unknown>,
  onLine?: (line: ServerLogLine) => void,
): Promise<SoakServer> {
  const configFile = join(dir, 'facerec.config.json');
  await writeFile(configFile, JSON.stringify({ host: '127.0.0.1', port: 0, logLevel: 'info', ...config }, null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env, CONFIG_FILE: configFile };
  for (const name of Object.keys(ENV_KEYS)) delete env[name];

  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
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
  const otherOutput: string[] = [];
  let exit: SoakServer['exit'];
  const exited = new Promise<NonNullable<SoakServer['exit']>>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      process.off('exit', killGroup);
      resolve(exit);
    }),
  );
  createInterface({ input: child.stderr! }).on('line', (line) => otherOutput.push(line));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not listen within 180 s')), START_TIMEOUT_MS);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${otherOutput.join('\n')}`),
      );
    });
    createInterface({ input: child.stdout! }).on('line', (raw) => {
      let record: { level?: unknown; time?: unknown; msg?: unknown; url?: unknown; input?: unknown };
      try {
        record = JSON.parse(raw);
      } catch {
        otherOutput.push(raw);
        return;
      }
      const level = typeof record.level === 'number' ? record.level : 0;
      const msg = typeof record.msg === 'string' ? record.msg : '';
      const line: ServerLogLine = { level, time: typeof record.time === 'number' ? record.time : Date.now(), msg, raw };
      if (typeof record.input === 'string') line.input = record.input;
      if (level >= 40) problems.push(line);
      onLine?.(line);
      if (typeof record.url === 'string' && msg.includes('listening')) {
        clearTimeout(timer);
        resolve(record.url);
      }
    });
  }).catch(async (err: unknown) => {
    killGroup();
    await exited;
    throw err;
  });

  return {
    pid,
    url,
    problems,
    otherOutput,
    get exit() {
      return exit;
    },
    async stop() {
      if (exit) return { ...exit, forced: false };
      child.kill('SIGTERM');
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        killGroup();
      }, STOP_TIMEOUT_MS);
      const result = await exited;
      clearTimeout(timer);
      // Whatever it started and did not stop (an ffmpeg decoder, say) goes with the group.
      killGroup();
      return { ...result, forced };
    },
  };
}

/** Resident set of a process in bytes (Linux /proc VmRSS), or undefined once it has gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The processes whose parent is `pid`, with their command names (Linux /proc). */
export function childProcesses(pid: number): Array<{ pid: number; comm: string }> {
  const out: Array<{ pid: number; comm: string }> = [];
  for (const name of readdirSync('/proc')) {
    const p = Number(name);
    if (!Number.isInteger(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const close = stat.lastIndexOf(') ');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: p, comm });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
