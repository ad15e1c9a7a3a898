// A real Redis for a test file: Debian's redis-server (scripts/setup-test-deps.sh) on a free 127.0.0.1 port, with
// no persistence (nothing written to disk). It can be stopped and started again on the same port, as an outage
// or a restart, and stop() leaves nothing running.
import { type ChildProcess, spawn } from 'node:child_process';
import { canConnect, freePort, terminate } from './rtspServer.ts';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Stops the server (SIGTERM); it comes back empty on resume(), as after a restart without persistence. */
  pause(): Promise<void>;
  /** Starts it again on the same port. */
  resume(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that hangs with its connections open. */
  freeze(): void;
  thaw(): void;
  /** Stops it for good. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await terminate(proc, 'SIGKILL');
        throw new Error(`redis-server did not start on 127.0.0.1:${port}: ${output.trim() || 'timed out'}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const halt = async () => {
    const proc = child;
    child = undefined;
    if (proc) await terminate(proc, 'SIGTERM');
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: halt,
    resume: launch,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
    stop: halt,
  };
}
