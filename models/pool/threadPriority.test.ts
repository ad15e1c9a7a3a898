// The inference threads run below the main thread's CPU priority (threadPriority.ts), read back from the kernel.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultFacePoolSettings, FacePool } from './facePool.ts';
import { INFERENCE_NICE } from './threadPriority.ts';

/** tid → nice value of every thread of this process (Linux /proc). */
function threadNice(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after "(comm) ": state is the 1st, nice the 17th.
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

describe.runIf(process.platform === 'linux')('inference thread priority', () => {
  let pool: FacePool | undefined;
  afterAll(() => pool?.close());

  it('face workers run at INFERENCE_NICE, the main thread and the rest of the process stay at 0', async () => {
    const before = threadNice();
    expect(before.get(process.pid)).toBe(0);
    pool = await FacePool.start({ ...defaultFacePoolSettings(2), provider: 'cpu', size: 2, maxQueue: 4 });
    // The workers still analyse at their lower priority.
    const image = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64 };
    expect((await pool.analyzeFrame(image)).faces).toEqual([]);

    const after = threadNice();
    const lowered = [...after].filter(([tid, nice]) => !before.has(tid) && nice === INFERENCE_NICE);
    // Each worker thread, and any thread its sessions started.
    expect(lowered.length).toBeGreaterThanOrEqual(2);
    expect(after.get(process.pid)).toBe(0);
    // Threads that existed before the pool (libuv's pool among them) kept their priority.
    for (const [tid, nice] of before) if (after.has(tid)) expect(after.get(tid), `thread ${tid}`).toBe(nice);
  });
});
