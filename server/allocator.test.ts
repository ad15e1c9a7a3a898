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

/**
 * Minor page faults per zeroed 1 MB ArrayBuffer (what every onnxruntime output is), 200 of them allocated and
 * dropped after a warm-up, in `node` under the launcher's defaults: 256 means every page faulted in anew.
 */
async function faultsPerZeroedBuffer(): Promise<number> {
  const probe = `let sum = 0;
    const round = () => { for (let i = 0; i < 50; i++) { const b = new Float32Array(1 << 18); b.fill(1); sum += b[i]; } };
    round();
    const before = process.resourceUsage().minorPageFault;
    for (let r = 0; r < 4; r++) round();
    console.log((process.resourceUsage().minorPageFault - before) / 200, sum);`;
  const env = { ...process.env };
  delete env.MALLOC_CONF;
  const { stdout } = await run('sh', [WITH_ALLOCATOR, process.execPath, '-e', probe], { env, timeout: 60_000 });
  return Number(stdout.split(' ')[0]);
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

  it('reuses freed memory for zeroed buffers without faulting its pages in again', { timeout: 60_000 }, async () => {
    // jemalloc zeroes such memory by handing the pages back unless thp is always (bin/with-allocator.sh), an option
    // it honours where the kernel has transparent huge pages (/sys/kernel/mm/transparent_hugepage/enabled).
    expect(await faultsPerZeroedBuffer()).toBeLessThan(16);
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
