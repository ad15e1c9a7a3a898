// The one module that spawns ffmpeg: one-shot jobs and the decoders' processes, with a process-wide registry so no
// ffmpeg child outlives the server. Decoders (rawDecoder.ts) and the sources built on them (decoderSource.ts) go
// through spawnFfmpeg; nothing else should call child_process for ffmpeg. Shutdown itself (signals) belongs to the
// server's entry point, which stops the cameras; the 'exit' hook and PR_SET_PDEATHSIG below are the backstops.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { ffmpegInfo, onPath } from './ffmpegBinary.ts';
import { FfmpegError } from './ffmpegErrors.ts';
import { LineTail } from './lineTail.ts';

const children = new Set<ChildProcess>();
let hooksInstalled = false;
let pdeathsigWrapper: string | null | undefined;

/**
 * util-linux's `setpriv --pdeathsig KILL` execs ffmpeg (same pid) with PR_SET_PDEATHSIG: the kernel kills it when
 * the Node process dies in any way, including SIGKILL, where no exit hook runs. Linux only; checked once.
 * (The signal follows the thread that spawned it: the main thread here, or a worker thread if sources run there.)
 */
function deathSignalWrapper(): string | null {
  if (pdeathsigWrapper !== undefined) return pdeathsigWrapper;
  pdeathsigWrapper = null;
  const setpriv = process.platform === 'linux' ? onPath('setpriv') : undefined;
  if (setpriv && spawnSync(setpriv, ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }).status === 0) {
    pdeathsigWrapper = setpriv;
  }
  return pdeathsigWrapper;
}

function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL, no waiting. Covers process.exit() (the entry point's shutdown
  // after SIGINT/SIGTERM), a normal end and an uncaught exception.
  process.on('exit', killAllNow);
}

export interface SpawnOptions {
  /** stdout as a pipe (decoders) or ignored (jobs that write files). */
  stdout?: 'pipe' | 'ignore';
  /** stdin as a pipe (decoders fed by the caller, e.g. WebRTC video) or ignored. */
  stdin?: 'pipe' | 'ignore';
}

/** Spawns ffmpeg with these arguments, registered so it is killed with the process. */
export function spawnFfmpeg(
  args: readonly string[],
  { stdout = 'ignore', stdin = 'ignore' }: SpawnOptions = {},
): ChildProcess {
  const bin = ffmpegInfo().path;
  installExitHooks();
  const wrapper = deathSignalWrapper();
  const [command, argv] = wrapper ? [wrapper, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, [...args]];
  const child = spawn(command, argv, { stdio: [stdin, stdout, 'pipe'] });
  children.add(child);
  const forget = () => children.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
  return child;
}

/** Waits for the child's end; SIGTERM first, SIGKILL after `graceMs` if it is still there. */
export function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills every ffmpeg this process started (decoders and jobs) and waits until they have exited. */
export async function killAllDecoders(graceMs = 2000): Promise<void> {
  await Promise.all([...children].map((child) => terminate(child, graceMs)));
}

/** Pids of the live ffmpeg children (for tests and diagnostics). */
export function liveFfmpegPids(): number[] {
  return [...children].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
}

export interface RunOptions {
  /** Kill the job after this long (default 120 s). */
  timeoutMs?: number;
}

/** Runs a one-shot ffmpeg job (encoding a file, say); rejects with FfmpegError and ffmpeg's last lines. */
export function runFfmpeg(args: readonly string[], { timeoutMs = 120_000 }: RunOptions = {}): Promise<void> {
  const child = spawnFfmpeg(['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', ...args]);
  const tail = new LineTail(50, []);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => tail.push(text));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void terminate(child, 2000);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FfmpegError('failed', `ffmpeg did not start: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      tail.flush();
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `failed (${signal ?? `exit ${code}`})`;
      const last = tail.lines.at(-1);
      reject(new FfmpegError(timedOut ? 'timeout' : 'failed', `ffmpeg ${why}${last ? `: ${last}` : ''}`, tail.lines));
    });
  });
}
