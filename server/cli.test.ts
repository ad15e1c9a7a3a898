// The `facerec` command as a user runs it (node bin/facerec.mjs, real models, a real facebank): a long list
// of photo paths (which used to crash the process: see server/argsFile.ts), a folder of 1,000 images, and an
// unreadable file among good ones.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Person, personImage } from '../test/support/testdata.ts';
import { ARGS_FILE_ENV, argsBytes, launchArgs, MAX_INLINE_ARGS_BYTES } from './argsFile.ts';

const BIN = fileURLToPath(new URL('../bin/facerec.mjs', import.meta.url));
const ENROLLED: Person[] = ['amy', 'howard', 'penny', 'sheldon'];
const HELD_OUT = [3, 4, 5];

// Slow on a loaded 2-core machine (1,000 images at 7 a second when the CPU is shared): these bound nothing
// about speed, so they get ample time.
const SLOW = 600_000;

const Output = z.array(
  z.object({
    file: z.string(),
    faces: z.array(z.object({ name: z.string(), similarity: z.number(), box: z.array(z.number()) })),
    error: z.string().optional(),
  }),
);

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function facerec(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), SLOW - 10_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The person a test link stands for: links are named `<person>-<n>-<padding>.png`. */
const personOf = (file: string) => file.split('/').at(-1)!.split('-')[0];

describe('long command lines (server/argsFile.ts)', () => {
  it('run in place up to the limit; a child handed its args by file takes them and never relaunches', () => {
    const short = ['recognize', 'a.png'];
    expect(launchArgs(short, {})).toEqual({ args: short, relaunch: false });
    const long = Array.from({ length: 100 }, (_, i) => `/photos/${String(i).padStart(60, 'x')}.png`);
    expect(argsBytes(long)).toBeGreaterThan(MAX_INLINE_ARGS_BYTES);
    expect(launchArgs(long, {}).relaunch).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'facerec-args-test-'));
    const file = join(dir, 'args.json');
    writeFileSync(file, JSON.stringify(long));
    const env: NodeJS.ProcessEnv = { [ARGS_FILE_ENV]: file };
    expect(launchArgs([], env)).toEqual({ args: long, relaunch: false });
    expect(env[ARGS_FILE_ENV]).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });
});

describe('facerec recognize (CLI, real models)', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'facerec-cli-'));
    for (const person of ENROLLED) {
      mkdirSync(join(dir, 'people', person), { recursive: true });
      for (const n of [1, 2]) copyFileSync(personImage(person, n), join(dir, 'people', person, `${person}${n}.png`));
    }
    env = {
      FACEBANK_DIR: join(dir, 'people'),
      DATABASE_PATH: join(dir, 'facerec.db'),
      LOG_LEVEL: 'warn',
    };
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'names the faces of 240 photos given as long paths (a 15 KB command line), in order',
    async () => {
      const links = join(dir, 'long-names');
      mkdirSync(links);
      const paths: string[] = [];
      for (let i = 0; i < 240; i++) {
        const person = ENROLLED[i % ENROLLED.length]!;
        const n = HELD_OUT[Math.floor(i / ENROLLED.length) % HELD_OUT.length]!;
        const path = join(links, `${person}-${n}-${String(i).padStart(4, '0')}-a-rather-long-file-name.png`);
        symlinkSync(personImage(person, n), path);
        paths.push(path);
      }
      expect(argsBytes(paths)).toBeGreaterThan(14_000);

      const run = await facerec(['recognize', ...paths, '--json'], env);
      expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 0, signal: null });
      const results = Output.parse(JSON.parse(run.stdout));
      expect(results.map((r) => r.file)).toEqual(paths);
      const right = results.filter((r) => r.faces[0]?.name === personOf(r.file)).length;
      expect(right).toBeGreaterThanOrEqual(0.9 * paths.length);
    },
    SLOW,
  );

  it(
    'a folder of 1,000 images: progress on stderr and a complete JSON answer',
    async () => {
      const folder = join(dir, 'thousand');
      mkdirSync(folder);
      for (let i = 0; i < 1000; i++) {
        const person = ENROLLED[i % ENROLLED.length]!;
        const n = HELD_OUT[i % HELD_OUT.length]!;
        symlinkSync(personImage(person, n), join(folder, `${person}-${n}-${String(i).padStart(4, '0')}.png`));
      }
      const run = await facerec(['recognize', folder, '--json'], env);
      expect({ code: run.code, signal: run.signal }, run.stderr).toEqual({ code: 0, signal: null });
      const results = Output.parse(JSON.parse(run.stdout));
      expect(results.map((r) => r.file)).toEqual(
        readdirSync(folder)
          .sort()
          .map((f) => join(folder, f)),
      );
      expect(results.every((r) => r.error === undefined && r.faces.length === 1)).toBe(true);
      const right = results.filter((r) => r.faces[0]?.name === personOf(r.file)).length;
      expect(right).toBeGreaterThanOrEqual(900);
      // Not a terminal: one progress line per tenth, ending at 1000/1000.
      expect(run.stderr).toMatch(/recognising 500\/1000|recognising 5\d\d\/1000/);
      expect(run.stderr).toMatch(/recognising 1000\/1000 \(100%\)/);
    },
    SLOW,
  );

  it(
    'an unreadable file among good ones: reported for that file, the others answered, exit code 1',
    async () => {
      const bad = join(dir, 'not-a-photo.png');
      writeFileSync(bad, 'this is not an image');
      const good = personImage('penny', 3);
      const run = await facerec(['recognize', good, bad, '--json'], env);
      expect(run.code).toBe(1);
      const results = Output.parse(JSON.parse(run.stdout));
      expect(results.map((r) => r.file)).toEqual([good, bad]);
      expect(results[0]!.faces.map((f) => f.name)).toEqual(['penny']);
      expect(results[1]!.error).toMatch(/image/i);
    },
    SLOW,
  );
});
