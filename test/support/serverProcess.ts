// The real server as a child process (node + tsx running server/main.ts), configured by environment variables,
// for tests that must kill it the hard way. It runs in its own process group, so `kill` takes its ffmpeg
// decoders down with it and the test file leaves nothing behind.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../server/main.ts', import.meta.url));

export interface ServerProcess {
  readonly pid: number;
  /** Resolves with the base URL once the server logs that it listens; rejects if it exits first. */
  readonly listening: Promise<string>;
  /** Resolves once the process has exited (however). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every stdout line (pino JSON) and stderr line so far, for failure messages. */
  readonly output: string[];
  /** SIGKILLs the server and everything it started, and waits for the server to be gone. */
  kill(): Promise<void>;
}

export function spawnServer(env: Record<string, string>): ServerProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('the server process did not start');
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const listening = new Promise<string>((resolve, reject) => {
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        if (!line.includes('facerec listening on')) continue;
        const url = (JSON.parse(line) as { url?: unknown }).url;
        if (typeof url === 'string') resolve(url);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n')));
    void exited.then(({ code, signal }) =>
      reject(new Error(`the server exited before listening (code ${code}, signal ${signal})`)),
    );
  });
  listening.catch(() => undefined);
  return {
    pid,
    listening,
    exited,
    output,
    async kill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    },
  };
}
