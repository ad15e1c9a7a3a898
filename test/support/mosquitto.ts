// A real MQTT broker for a test file: Debian's mosquitto (scripts/setup-test-deps.sh) on a free 127.0.0.1 port,
// anonymous, with its config and (optional) persistence file in a temp dir. It can be stopped and started again on
// the same port, and stop() leaves nothing running.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort, terminate } from './rtspServer.ts';

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  /** Stops the broker (SIGTERM: with persistence, it saves its sessions and retained messages first). */
  pause(): Promise<void>;
  /** Starts it again on the same port. */
  resume(): Promise<void>;
  /** Stops it for good and removes its temp dir. */
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /**
   * Keep sessions and retained messages across pause()/resume() (in the temp dir). A subscriber with a persistent
   * session (clean: false, QoS 1) then misses nothing published while it was away, whichever reconnects first.
   */
  persistence?: boolean;
}

const START_TIMEOUT_MS = 10_000;

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await mkdtemp(join(tmpdir(), 'facerec-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      `persistence ${options.persistence ? 'true' : 'false'}`,
      `persistence_location ${dir}/`,
      'max_queued_messages 100000',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const launch = async () => {
    const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
    });
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await canConnect(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await terminate(proc, 'SIGKILL');
        throw new Error(`mosquitto did not start on 127.0.0.1:${port}: ${stderr.trim() || 'timed out'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async () => {
    const proc = child;
    child = undefined;
    if (proc) await terminate(proc, 'SIGTERM');
  };
  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    pause: halt,
    resume: launch,
    async stop() {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
