// A long command line is handed to a child process through a file, so that the process running the models
// has a short one. Why: onnxruntime reads /proc/self/cmdline when it creates a session, and parses it
// recursively; in a worker thread (4 MB stack) a command line over about 14 KB overflows that stack and the
// whole process dies with SIGSEGV — e.g. `facerec recognize` given ~230 photo paths.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** Names the file holding the child's arguments (JSON array of strings); the child deletes it once read. */
export const ARGS_FILE_ENV = 'FACEREC_ARGS_FILE';
/** Command lines up to this size run in place: well under the ~14 KB that crashes, with room for the rest. */
export const MAX_INLINE_ARGS_BYTES = 4096;

const Args = z.array(z.string());

export function argsBytes(args: readonly string[]): number {
  return args.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
}

export interface Launch {
  args: string[];
  /** True when the command line is too long to run the models in this process: relaunch with the args file. */
  relaunch: boolean;
}

/**
 * The arguments this process was given: from the args file when a parent handed them over (never relaunched
 * again, whatever their length), else from argv.
 */
export function launchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Launch {
  const file = env[ARGS_FILE_ENV];
  if (!file) return { args: [...argv], relaunch: argsBytes(argv) > MAX_INLINE_ARGS_BYTES };
  delete env[ARGS_FILE_ENV];
  try {
    return { args: Args.parse(JSON.parse(readFileSync(file, 'utf8'))), relaunch: false };
  } finally {
    rmSync(join(file, '..'), { recursive: true, force: true });
  }
}

/**
 * Runs this same script again with `args` passed through a private temp file, and resolves with the exit code
 * to use (a child killed by a signal resolves with 128 + its number, as a shell reports it). SIGINT and SIGTERM
 * sent to this process are passed on, so the child shuts down as it would have.
 */
export function relaunchWithArgsFile(args: readonly string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'facerec-args-'));
  const file = join(dir, 'args.json');
  writeFileSync(file, JSON.stringify(args), { mode: 0o600 });
  const script = process.argv[1];
  if (!script) throw new Error('cannot relaunch: process.argv[1] (the script) is missing');
  const child = spawn(process.execPath, [...process.execArgv, script], {
    stdio: 'inherit',
    env: { ...process.env, [ARGS_FILE_ENV]: file },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      rmSync(dir, { recursive: true, force: true });
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
