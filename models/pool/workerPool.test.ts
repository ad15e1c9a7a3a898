import { existsSync, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { recordingLogger } from '../../test/support/recordingLogger.ts';
import type { TestInfo, TestInit, TestRequest, TestResponse } from './testWorker.ts';
import { OverloadError, PoolClosedError, type PoolOptions, WorkerCrashError, WorkerPool } from './workerPool.ts';

type TestPool = WorkerPool<TestInit, TestRequest, TestResponse, TestInfo>;

const workerFile = new URL('./testWorker.ts', import.meta.url);

/** OS threads of this process; the real proof that close() and a failed start leave nothing behind. */
function osThreads(): number | undefined {
  return existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : undefined;
}

const pools: TestPool[] = [];
let recorded = recordingLogger();

async function startPool(options: Partial<PoolOptions<TestInit>> = {}): Promise<TestPool> {
  const pool = await WorkerPool.start<TestInit, TestRequest, TestResponse, TestInfo>({
    workerFile,
    size: 1,
    init: { label: 'test' },
    maxQueue: 4,
    name: 'test pool',
    logger: recorded.logger,
    ...options,
  });
  pools.push(pool);
  return pool;
}

function expectKind<K extends TestResponse['kind']>(res: TestResponse, kind: K): Extract<TestResponse, { kind: K }> {
  expect(res.kind).toBe(kind);
  return res as Extract<TestResponse, { kind: K }>;
}

let baselineThreads: number | undefined;

beforeAll(async () => {
  // Node starts some helper threads lazily: with the first worker, and libuv's pool (4 threads) on demand.
  // Count only after they all exist, so the count moves only with the pool's own threads.
  const warmup = await startPool();
  await warmup.close();
  await Promise.all(Array.from({ length: 8 }, () => stat('.')));
  baselineThreads = osThreads();
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
  recorded = recordingLogger();
  const baseline = baselineThreads;
  if (baseline === undefined) return;
  // A terminated worker's OS thread can take a moment to disappear after its exit event.
  const deadline = Date.now() + 2000;
  while ((osThreads() ?? 0) > baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(osThreads()).toBe(baseline);
});

describe('WorkerPool', () => {
  test('returns results and runs jobs in parallel while the main loop stays responsive', async () => {
    const pool = await startPool({ size: 2, init: { label: 'parallel' } });
    expect(pool.size).toBe(2);
    expect(pool.info.label).toBe('parallel');

    const values = Float64Array.from({ length: 100_000 }, (_, i) => i);
    expect(expectKind(await pool.run({ kind: 'sum', values }), 'sum').total).toBe((99_999 * 100_000) / 2);

    let ticks = 0;
    const interval = setInterval(() => ticks++, 10);
    const t0 = performance.now();
    const jobs = [pool.run({ kind: 'busy', ms: 300 }), pool.run({ kind: 'busy', ms: 300 })];
    expect(pool.busy).toBe(2);
    const [a, b] = (await Promise.all(jobs)).map((r) => expectKind(r, 'busy'));
    const wall = performance.now() - t0;
    clearInterval(interval);

    expect(wall).toBeLessThan(550);
    expect(a?.threadId).not.toBe(b?.threadId);
    // ~30 ticks if never blocked; a blocked main thread would manage one or two.
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect(pool.stats()).toMatchObject({ size: 2, busy: 0, queued: 0, completed: 3, failed: 0, rejected: 0 });
  });

  test("a handler's typed error arrives with its name and message, and the pool keeps serving", async () => {
    const pool = await startPool();
    const err = await pool
      .run({ kind: 'fail', name: 'ImageDecodeError', message: 'not a JPEG', code: 'invalid_image' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('ImageDecodeError');
    expect((err as Error).message).toBe('not a JPEG');
    expect((err as { code?: string }).code).toBe('invalid_image');
    expect((err as Error).stack).toContain('testWorker.ts');

    const res = await pool.run({ kind: 'sum', values: new Float64Array([1, 2, 3]) });
    expect(expectKind(res, 'sum').total).toBe(6);
    expect(pool.stats()).toMatchObject({ completed: 1, failed: 1, crashes: 0 });
  });

  test('refuses at once with OverloadError when the queue is full; accepted requests run FIFO', async () => {
    const pool = await startPool({ size: 1, maxQueue: 2 });
    const accepted = [1, 2, 3].map(() => pool.run({ kind: 'busy', ms: 100 }));
    expect(pool.busy).toBe(1);
    expect(pool.queueDepth).toBe(2);

    const t0 = performance.now();
    const refused = await pool.run({ kind: 'busy', ms: 100 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - t0).toBeLessThan(50);
    expect(refused).toBeInstanceOf(OverloadError);
    expect((refused as OverloadError).name).toBe('OverloadError');
    expect((refused as OverloadError).queueDepth).toBe(2);

    const done = (await Promise.all(accepted)).map((r) => expectKind(r, 'busy'));
    const starts = done.map((r) => r.startedAt);
    expect(starts).toEqual([...starts].sort((x, y) => x - y));
    expect(pool.stats()).toMatchObject({ completed: 3, rejected: 1, queued: 0, busy: 0 });
  });

  test('a crash rejects the running request with WorkerCrashError and a replacement serves the rest', async () => {
    const pool = await startPool({ size: 1 });
    const firstThread = pool.info.threadId;
    const crashed = pool.run({ kind: 'crash' });
    // Queued behind the crash: must be served by the replacement, not lost with the dead thread.
    const queued = pool.run({ kind: 'sum', values: new Float64Array([4, 5]) });

    const err = await crashed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkerCrashError);
    expect((err as WorkerCrashError).exitCode).toBe(1);
    expect((err as WorkerCrashError).message).toMatch(/died while running this request/);

    const served = expectKind(await queued, 'sum');
    expect(served.total).toBe(9);
    expect(served.threadId).not.toBe(firstThread);
    const next = expectKind(await pool.run({ kind: 'sum', values: new Float64Array([1]) }), 'sum');
    expect(next.total).toBe(1);

    expect(pool.stats()).toMatchObject({ size: 1, crashes: 1, restartFailures: 0, completed: 2, failed: 1 });
    expect(recorded.lines).toHaveLength(1);
    expect(recorded.lines[0]?.level).toBe('warn');
  });

  test('a replacement that fails setup leaves its slot empty while the other threads keep serving', async () => {
    // Two setups succeed (the start); every later setup fails.
    const setupBudget = new Int32Array(new SharedArrayBuffer(4));
    setupBudget[0] = 2;
    const pool = await startPool({ size: 2, init: { label: 'budget', setupBudget } });

    await expect(pool.run({ kind: 'crash' })).rejects.toBeInstanceOf(WorkerCrashError);
    await vi.waitFor(() => expect(pool.stats().restartFailures).toBe(1), { timeout: 10_000 });
    expect(pool.stats()).toMatchObject({ size: 1, slots: 2, emptySlots: 1, crashes: 1 });
    expect(recorded.lines.map((l) => l.level)).toEqual(['warn', 'error']);

    const [x, y] = await Promise.all([
      pool.run({ kind: 'sum', values: new Float64Array([1]) }),
      pool.run({ kind: 'sum', values: new Float64Array([2]) }),
    ]);
    expect(expectKind(x!, 'sum').total + expectKind(y!, 'sum').total).toBe(3);

    // Losing the last thread too must not leave callers waiting forever.
    await expect(pool.run({ kind: 'crash' })).rejects.toBeInstanceOf(WorkerCrashError);
    await vi.waitFor(() => expect(pool.stats().emptySlots).toBe(2), { timeout: 10_000 });
    await expect(pool.run({ kind: 'sum', values: new Float64Array([1]) })).rejects.toThrow(/no threads left/);
  });

  test("start rejects with the setup error and leaves no threads when a worker's setup throws", async () => {
    const before = osThreads();
    const err = await WorkerPool.start<TestInit, TestRequest, TestResponse, TestInfo>({
      workerFile,
      size: 2,
      init: { label: 'broken', failSetup: true },
      maxQueue: 1,
      logger: recorded.logger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('SetupBrokenError');
    expect((err as Error).message).toBe('setup of broken failed on purpose');
    expect(osThreads()).toBe(before);
  });

  test('start rejects when the worker module itself cannot load', async () => {
    await expect(
      WorkerPool.start({ workerFile: new URL('./noSuchWorker.ts', import.meta.url), size: 1, init: {}, maxQueue: 1 }),
    ).rejects.toThrow(/noSuchWorker/);
  });

  test('typed arrays travel both ways intact, moved rather than copied', async () => {
    const pool = await startPool();
    const values = Float32Array.from({ length: 512 }, (_, i) => i / 7);
    const expected = values.map((v) => v * 2);

    const res = expectKind(await pool.run({ kind: 'scale', values, factor: 2 }, [values.buffer]), 'scale');
    expect(values.buffer.byteLength).toBe(0); // the request's buffer was transferred to the worker
    expect(res.values).toBeInstanceOf(Float32Array);
    expect(res.values).toEqual(expected);
  });

  test('close rejects queued and running requests with PoolClosedError, then refuses new ones', async () => {
    const pool = await startPool({ size: 1, maxQueue: 4 });
    const running = pool.run({ kind: 'busy', ms: 300 });
    const queued = [pool.run({ kind: 'busy', ms: 10 }), pool.run({ kind: 'busy', ms: 10 })];
    const settled = Promise.allSettled([running, ...queued]);

    await pool.close();
    const [r, ...q] = await settled;
    for (const outcome of q) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(PoolClosedError);
      expect((reason as Error).message).toMatch(/closed before this request ran/);
    }
    expect(r?.status).toBe('rejected');
    expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PoolClosedError);

    await expect(pool.run({ kind: 'busy', ms: 1 })).rejects.toBeInstanceOf(PoolClosedError);
    await pool.close(); // idempotent
    expect(pool.stats()).toMatchObject({ size: 0, busy: 0, queued: 0, failed: 3, rejected: 1 });
    expect(recorded.lines).toEqual([]); // terminating on close is not a crash
  });
});
