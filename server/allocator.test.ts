import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WITH_ALLOCATOR } from '../test/support/serverProcess.ts';
import { allocatorOf } from './allocator.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** Runs `node` through `npm start`'s launcher and returns what server/allocator.ts says of that process. */
async function allocatorUnderLauncher(env: Record<string, string>): Promise<string> {
  const probe = "import('./server/allocator.ts').then((m) => console.log(m.processAllocator()))";
  const { stdout } = await run('sh', [WITH_ALLOCATOR, process.execPath, '--import', 'tsx', '-e', probe], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return stdout.trim();
}

describe('bin/with-allocator.sh (npm start)', () => {
  // scripts/setup-test-deps.sh installs libjemalloc2, as a production machine should have it.
  it('runs the server on jemalloc where libjemalloc2 is installed', { timeout: 60_000 }, async () => {
    expect(existsSync(`/usr/lib/${process.arch === 'x64' ? 'x86_64' : 'aarch64'}-linux-gnu/libjemalloc.so.2`)).toBe(
      true,
    );
    expect(await allocatorUnderLauncher({})).toBe('jemalloc');
    expect(await allocatorUnderLauncher({ FACEREC_ALLOCATOR: 'jemalloc' })).toBe('jemalloc');
  });

  it('keeps glibc, with two arenas, when told to', { timeout: 60_000 }, async () => {
    expect(await allocatorUnderLauncher({ FACEREC_ALLOCATOR: 'glibc' })).toBe('glibc-tuned');
  });

  it('refuses an unknown choice with a clear message', async () => {
    const failed = await run('sh', [WITH_ALLOCATOR, 'true'], {
      env: { ...process.env, FACEREC_ALLOCATOR: 'tcmalloc' },
    }).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('FACEREC_ALLOCATOR must be auto, jemalloc or glibc');
  });
});

describe('allocatorOf', () => {
  it('tells jemalloc from tuned and default glibc', () => {
    const glibcMaps = '7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n';
    const jemallocMaps = `${glibcMaps}7f02-7f03 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n`;
    expect(allocatorOf(jemallocMaps, {})).toBe('jemalloc');
    expect(allocatorOf(glibcMaps, { MALLOC_ARENA_MAX: '2' })).toBe('glibc-tuned');
    expect(allocatorOf(glibcMaps, {})).toBe('glibc');
  });
});
