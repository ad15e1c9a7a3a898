// A real worker for workerPool.test.ts: CPU-bound work that would block the main thread, plus ways to fail.
import { threadId } from 'node:worker_threads';
import { serveRequests } from './workerHost.ts';

export interface TestInit {
  label: string;
  /** Makes setup throw a SetupBrokenError. */
  failSetup?: boolean;
  /**
   * Shared across threads (SharedArrayBuffer survives workerData by reference): each setup takes one
   * from slot 0 and fails once none are left, so a test can let the first threads start and the
   * replacements fail.
   */
  setupBudget?: Int32Array;
}

export type TestRequest =
  | { kind: 'sum'; values: Float64Array }
  | { kind: 'busy'; ms: number }
  | { kind: 'fail'; name: string; message: string; code?: string }
  | { kind: 'crash' }
  | { kind: 'scale'; values: Float32Array; factor: number };

export type TestResponse =
  | { kind: 'sum'; total: number; threadId: number }
  | { kind: 'busy'; threadId: number; startedAt: number; endedAt: number }
  | { kind: 'scale'; values: Float32Array<ArrayBuffer> };

export interface TestInfo {
  label: string;
  threadId: number;
}

class SetupBrokenError extends Error {
  override name = 'SetupBrokenError';
}

/** Stands in for typed errors like ImageDecodeError: any name the test asks for. */
class NamedError extends Error {
  constructor(
    name: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = name;
  }
}

function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin: the point is to hold this thread's CPU the way session.run does
  }
}

async function handle(req: TestRequest): Promise<TestResponse> {
  switch (req.kind) {
    case 'sum': {
      let total = 0;
      for (const v of req.values) total += v;
      return { kind: 'sum', total, threadId };
    }
    case 'busy': {
      const startedAt = performance.timeOrigin + performance.now();
      busyWait(req.ms);
      return { kind: 'busy', threadId, startedAt, endedAt: performance.timeOrigin + performance.now() };
    }
    case 'fail':
      throw new NamedError(req.name, req.message, req.code);
    case 'crash':
      // In a worker, process.exit ends only this thread — as a native crash of the thread would, for the pool.
      return process.exit(1);
    case 'scale':
      return { kind: 'scale', values: req.values.map((v) => v * req.factor) };
  }
}

serveRequests<TestInit, TestRequest, TestResponse, TestInfo>(
  async (init) => {
    if (init.failSetup) throw new SetupBrokenError(`setup of ${init.label} failed on purpose`);
    if (init.setupBudget && Atomics.sub(init.setupBudget, 0, 1) <= 0) {
      throw new SetupBrokenError(`setup of ${init.label} is out of budget`);
    }
    return { handler: handle, info: { label: init.label, threadId } };
  },
  (res) => (res.kind === 'scale' ? [res.values.buffer] : []),
);
