import { describe, expect, test } from 'vitest';
import { FrameScheduler, runScheduler, type SchedulerClock } from './scheduler.ts';

interface Fake {
  cam: string;
  seq: number;
}

interface SimCamera {
  id: string;
  /** Milliseconds between frames from the source. */
  period: number;
  /** Time of the first frame. */
  phase?: number;
}

/**
 * A millisecond-step simulation: sources offer frames on their period, the pool takes `serviceMs` per frame.
 * Returns the dispatched frames in order, with their dispatch times.
 */
function simulate(
  s: FrameScheduler<Fake>,
  cameras: SimCamera[],
  serviceMs: number,
  durationMs: number,
): { at: number; frame: Fake }[] {
  const log: { at: number; frame: Fake }[] = [];
  const running: { id: string; end: number }[] = [];
  const seqs = new Map<string, number>();
  for (let t = 0; t < durationMs; t++) {
    for (let i = running.length - 1; i >= 0; i--) {
      if (running[i]!.end <= t) {
        s.done(running[i]!.id, t);
        running.splice(i, 1);
      }
    }
    for (const c of cameras) {
      if ((t - (c.phase ?? 0)) % c.period === 0 && t >= (c.phase ?? 0)) {
        const seq = seqs.get(c.id) ?? 0;
        seqs.set(c.id, seq + 1);
        s.offer(c.id, { cam: c.id, seq }, t);
      }
    }
    for (let job = s.next(t); job; job = s.next(t)) {
      log.push({ at: t, frame: job.frame });
      running.push({ id: job.id, end: t + serviceMs });
    }
  }
  return log;
}

describe('FrameScheduler', () => {
  test('latest frame wins: a newer frame replaces the pending one, which counts as skipped', () => {
    const s = new FrameScheduler<Fake>(1);
    s.addCamera('a', { maxDetectFps: 0, maxInFlight: 1 });
    expect(s.offer('a', { cam: 'a', seq: 0 }, 0)).toBeUndefined();
    expect(s.next(0)?.frame.seq).toBe(0);
    // The pool is busy: frames 1..3 arrive, only the newest survives.
    expect(s.offer('a', { cam: 'a', seq: 1 }, 10)).toBeUndefined();
    expect(s.offer('a', { cam: 'a', seq: 2 }, 20)?.seq).toBe(1);
    expect(s.offer('a', { cam: 'a', seq: 3 }, 30)?.seq).toBe(2);
    expect(s.next(30)).toBeUndefined();
    s.done('a', 40);
    expect(s.next(40)).toEqual({ id: 'a', frame: { cam: 'a', seq: 3 } });
    expect(s.next(40)).toBeUndefined();
    expect(s.counters('a')).toEqual({ offered: 4, skipped: 2, dispatched: 2, completed: 1, busyMs: 40 });
    expect(s.inFlight).toBe(1);
  });

  test('a camera has one frame in flight by default, so its results stay in order', () => {
    const s = new FrameScheduler<Fake>(4);
    s.addCamera('a', { maxDetectFps: 0, maxInFlight: 1 });
    s.offer('a', { cam: 'a', seq: 0 }, 0);
    expect(s.next(0)).toBeDefined();
    s.offer('a', { cam: 'a', seq: 1 }, 1);
    expect(s.next(1)).toBeUndefined();
    expect(s.nextDueAt()).toBeUndefined();
    s.done('a', 5);
    expect(s.next(5)?.frame.seq).toBe(1);
  });

  test('the rate cap holds a camera to maxDetectFps however fast frames arrive and the pool is', () => {
    const s = new FrameScheduler<Fake>(4);
    s.addCamera('a', { maxDetectFps: 10, maxInFlight: 1 });
    // 30 fps source, 5 ms service, 10 s.
    const log = simulate(s, [{ id: 'a', period: 33 }], 5, 10_000);
    expect(log.length).toBeGreaterThanOrEqual(95);
    expect(log.length).toBeLessThanOrEqual(101);
    // Never two dispatches closer than half the interval, and never more than 11 in any one second.
    for (let i = 1; i < log.length; i++) expect(log[i]!.at - log[i - 1]!.at).toBeGreaterThanOrEqual(50);
    for (let start = 0; start < 9000; start += 250) {
      expect(log.filter((e) => e.at >= start && e.at < start + 1000).length).toBeLessThanOrEqual(11);
    }
    const c = s.counters('a')!;
    expect(c.offered).toBe(c.skipped + c.dispatched + (s.hasPending('a') ? 1 : 0));
  });

  test('a source at exactly the cap with jitter loses no frames', () => {
    const s = new FrameScheduler<Fake>(1);
    s.addCamera('a', { maxDetectFps: 10, maxInFlight: 1 });
    let dispatched = 0;
    for (let k = 0; k < 100; k++) {
      // ±20 ms of jitter around a 100 ms grid.
      const t = k * 100 + (k % 2 === 0 ? -20 : 20) + 20;
      s.offer('a', { cam: 'a', seq: k }, t);
      const job = s.next(t);
      if (job) {
        dispatched++;
        s.done('a', t + 1);
      }
    }
    expect(dispatched).toBe(100);
    expect(s.counters('a')!.skipped).toBe(0);
  });

  test('three cameras competing for one slot each get a third of the dispatches', () => {
    const s = new FrameScheduler<Fake>(1);
    for (const id of ['a', 'b', 'c']) s.addCamera(id, { maxDetectFps: 0, maxInFlight: 1 });
    const log = simulate(
      s,
      [
        { id: 'a', period: 40 },
        { id: 'b', period: 40, phase: 13 },
        { id: 'c', period: 40, phase: 27 },
      ],
      30,
      60_000,
    );
    const per = (id: string) => log.filter((e) => e.frame.cam === id).length;
    expect(log.length).toBeGreaterThan(1900);
    for (const id of ['a', 'b', 'c']) expect(Math.abs(per(id) / log.length - 1 / 3)).toBeLessThan(0.01);
    // Round robin: no camera is served twice in a row while the others have frames waiting.
    const order = log.map((e) => e.frame.cam).join('');
    expect(order).not.toMatch(/aa|bb|cc/);
  });

  test('a camera sending frames 10× faster does not starve a slow one', () => {
    const s = new FrameScheduler<Fake>(1);
    s.addCamera('fast', { maxDetectFps: 0, maxInFlight: 1 });
    s.addCamera('slow', { maxDetectFps: 0, maxInFlight: 1 });
    const log = simulate(
      s,
      [
        { id: 'fast', period: 10 },
        { id: 'slow', period: 100, phase: 5 },
      ],
      20,
      20_000,
    );
    const slow = s.counters('slow')!;
    // Every slow frame is served (at most one still pending at the end), and fast takes the rest of the pool.
    expect(slow.dispatched).toBeGreaterThanOrEqual(slow.offered - 1);
    expect(slow.skipped).toBe(0);
    expect(s.counters('fast')!.dispatched).toBeGreaterThan(log.length * 0.7);
    // The slow camera's lag is bounded by one service time.
    let worst = 0;
    for (const e of log) if (e.frame.cam === 'slow') worst = Math.max(worst, e.at - (5 + e.frame.seq * 100));
    expect(worst).toBeLessThanOrEqual(20);
  });

  test('lag stays bounded when cameras outnumber the pool: fps drops instead', () => {
    const s = new FrameScheduler<Fake>(2);
    const cams = Array.from({ length: 8 }, (_, i) => ({ id: `c${i}`, period: 40, phase: i * 5 }));
    for (const c of cams) s.addCamera(c.id, { maxDetectFps: 25, maxInFlight: 1 });
    const log = simulate(s, cams, 50, 30_000);
    for (const e of log) {
      const cam = cams.find((c) => c.id === e.frame.cam)!;
      // Dispatched frames are never older than one source period plus one full round of the pool.
      expect(e.at - (cam.phase + e.frame.seq * cam.period)).toBeLessThan(cam.period + 8 * 50);
    }
    // 2 slots × 20 frames/s = 40/s shared by 8 cameras: 5 fps each, not 25.
    for (const c of cams) expect(s.counters(c.id)!.dispatched / 30).toBeCloseTo(5, 0);
  });

  test('a removed camera drops its pending frame and is never dispatched; its in-flight slot frees on done', () => {
    const s = new FrameScheduler<Fake>(1);
    s.addCamera('a', { maxDetectFps: 0, maxInFlight: 1 });
    s.addCamera('b', { maxDetectFps: 0, maxInFlight: 1 });
    s.offer('a', { cam: 'a', seq: 0 }, 0);
    expect(s.next(0)?.id).toBe('a');
    s.offer('a', { cam: 'a', seq: 1 }, 1);
    s.offer('b', { cam: 'b', seq: 0 }, 1);
    expect(s.removeCamera('a')).toEqual({ cam: 'a', seq: 1 });
    expect(s.offer('a', { cam: 'a', seq: 2 }, 2)).toEqual({ cam: 'a', seq: 2 });
    expect(s.next(2)).toBeUndefined();
    s.done('a', 3);
    expect(s.inFlight).toBe(0);
    expect(s.next(3)?.id).toBe('b');
    expect(s.cameraIds).toEqual(['b']);
  });

  test('nextDueAt tells a driver when a rate-capped frame may go', () => {
    const s = new FrameScheduler<Fake>(1);
    s.addCamera('a', { maxDetectFps: 5, maxInFlight: 1 });
    expect(s.nextDueAt()).toBeUndefined();
    s.offer('a', { cam: 'a', seq: 0 }, 1000);
    expect(s.next(1000)).toBeDefined();
    s.done('a', 1010);
    s.offer('a', { cam: 'a', seq: 1 }, 1020);
    expect(s.next(1020)).toBeUndefined();
    expect(s.nextDueAt()).toBe(1100);
    expect(s.next(1100)?.frame.seq).toBe(1);
    // Back on the 200 ms grid.
    s.done('a', 1110);
    s.offer('a', { cam: 'a', seq: 2 }, 1120);
    expect(s.nextDueAt()).toBe(1300);
  });
});

class ManualClock implements SchedulerClock {
  t = 0;
  private timers: { at: number; fn: () => void; handle: number }[] = [];
  private handles = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const handle = ++this.handles;
    this.timers.push({ at: this.t + ms, fn, handle });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.handle !== handle);
  }
  get pendingTimers(): number {
    return this.timers.length;
  }
  /** Advances time, firing timers due on the way. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const first = this.timers[0];
      if (!first || first.at > end) break;
      this.timers.shift();
      this.t = first.at;
      first.fn();
    }
    this.t = end;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('runScheduler', () => {
  test('processes frames up to capacity, wakes for rate-capped frames, frees slots on failure', async () => {
    const s = new FrameScheduler<Fake>(2);
    s.addCamera('a', { maxDetectFps: 10, maxInFlight: 1 });
    s.addCamera('b', { maxDetectFps: 0, maxInFlight: 1 });
    const clock = new ManualClock();
    const started: string[] = [];
    const finishers: (() => void)[] = [];
    const errors: unknown[] = [];
    const driver = runScheduler(
      s,
      (id, frame) => {
        started.push(`${id}${frame.seq}`);
        if (id === 'b' && frame.seq === 1) return Promise.reject(new Error('boom'));
        return new Promise<void>((resolve) => finishers.push(resolve));
      },
      clock,
      (_id, error) => errors.push(error),
    );
    driver.offer('a', { cam: 'a', seq: 0 });
    driver.offer('b', { cam: 'b', seq: 0 });
    await tick();
    expect(started).toEqual(['a0', 'b0']);
    expect(s.inFlight).toBe(2);
    finishers.shift()!();
    await tick();
    // a is rate-capped: its next frame waits for the timer.
    clock.advance(10);
    driver.offer('a', { cam: 'a', seq: 1 });
    await tick();
    expect(started).toEqual(['a0', 'b0']);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(40);
    await tick();
    expect(started).toEqual(['a0', 'b0', 'a1']);
    finishers.shift()!();
    await tick();
    driver.offer('b', { cam: 'b', seq: 1 });
    await tick();
    await tick();
    expect(started).toEqual(['a0', 'b0', 'a1', 'b1']);
    expect(errors).toHaveLength(1);
    expect(s.inFlight).toBe(1);
    driver.stop();
    expect(clock.pendingTimers).toBe(0);
  });
});
