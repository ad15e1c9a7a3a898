// A throwaway PostgreSQL cluster for a test file: Debian's postgresql 15 (scripts/setup-test-deps.sh), initdb'd
// into a temp dir and listening on a free 127.0.0.1 port, fsync off (nothing here must survive a power cut). It
// can be stopped and started again on the same port and data (an outage), and stop() leaves nothing running and
// removes the dir. initdb and postgres refuse to run as root: as root, they run as the `postgres` user.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './rtspServer.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const START_TIMEOUT_MS = 20_000;
/** Fast shutdown (SIGINT) rolls back open transactions and disconnects clients; SIGKILL after this. */
const STOP_GRACE_MS = 10_000;

export interface Postgres {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:port/postgres (trust authentication: loopback only, no password). */
  readonly url: string;
  /** Stops the server (fast shutdown: clients are disconnected at once); the data stays. */
  pause(): Promise<void>;
  /** Starts it again on the same port and data. */
  resume(): Promise<void>;
  /** Stops it for good and removes its temp dir. */
  stop(): Promise<void>;
}

/** As root, `postgres` runs as the postgres user (setpriv execs it: the child is postgres itself, not a wrapper). */
function asPostgres(command: string, args: string[]): [string, string[]] {
  if (userInfo().uid !== 0) return [command, args];
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', command, ...args]];
}

function sqlReady(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  return client
    .connect()
    .then(() => client.query('SELECT 1'))
    .then(
      () => true,
      () => false,
    )
    .finally(() => client.end().catch(() => undefined));
}

function halt(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGINT');
    proc.kill('SIGCONT');
  });
}

export async function startPostgres(): Promise<Postgres> {
  if (!existsSync(join(BIN, 'postgres'))) throw new Error(`${BIN}/postgres not found: run scripts/setup-test-deps.sh`);
  const dir = await mkdtemp(join(tmpdir(), 'facerec-postgres-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'run');
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let child: ChildProcess | undefined;

  const launch = async () => {
    const [cmd, args] = asPostgres(join(BIN, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${sockets}`,
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'shared_buffers=16MB',
      '-c',
      'max_connections=50',
    ]);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    child = proc;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await sqlReady(url))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await halt(proc);
        throw new Error(`postgres did not start on 127.0.0.1:${port}: ${stderr.trim() || 'timed out'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const pause = async () => {
    const proc = child;
    child = undefined;
    if (proc) await halt(proc);
  };

  try {
    await mkdir(sockets);
    if (userInfo().uid === 0) {
      const { uid, gid } = await postgresUser();
      chownSync(dir, uid, gid);
      chownSync(sockets, uid, gid);
    }
    const [cmd, args] = asPostgres(join(BIN, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--auth=trust',
      '--no-sync',
      '--no-locale',
      '-E',
      'UTF8',
    ]);
    await promisify(execFile)(cmd, args);
    await launch();
  } catch (err) {
    await pause();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url,
    pause,
    resume: launch,
    async stop() {
      await pause();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await promisify(execFile)('id', ['-u', 'postgres']);
  const { stdout: g } = await promisify(execFile)('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}
