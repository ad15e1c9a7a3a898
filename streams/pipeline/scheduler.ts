// Which camera's frame goes to the inference pool next. Pure and synchronous: time comes in as arguments, so
// the policy is testable by simulation; `runScheduler` is the small async driver around it.
//
// Policy:
// - Latest frame wins: a camera holds at most one pending frame and a newer one replaces it, so a camera
//   never queues stale frames behind the detector. When cameras outnumber the CPU, each camera's processed
//   fps drops instead of its lag growing.
// - Each camera is capped at its maxDetectFps; frames that arrive faster are replaced while they wait.
// - A free worker slot goes to the eligible camera (pending frame, allowed by its rate, below its own
//   in-flight limit) that was served least recently, so one busy camera cannot starve the others.
import type { Frame } from '../types.ts';

export interface CameraScheduleOptions {
  /** Upper bound on dispatches per second; 0 or Infinity: no cap. */
  maxDetectFps: number;
  /**
   * Frames of this camera processed at once (at least 1). Above 1, results can complete out of order and the
   * caller must put them back in `seq` order before the tracker, which needs time to move forward.
   */
  maxInFlight: number;
}

export interface CameraCounters {
  /** Frames offered. */
  offered: number;
  /** Frames dropped without processing: replaced by a newer frame, or pending when the camera was removed. */
  skipped: number;
  /** Frames handed to the pool. */
  dispatched: number;
  /** Dispatched frames reported done. */
  completed: number;
  /** Total milliseconds between dispatch and done over completed frames (busyMs / completed: mean service). */
  busyMs: number;
}

export interface Dispatch<F> {
  id: string;
  frame: F;
}

interface CameraSlot<F> {
  readonly id: string;
  /** Milliseconds between dispatches; 0 when uncapped. */
  interval: number;
  maxInFlight: number;
  /** Earliest time of the next dispatch allowed by the rate cap. */
  due: number;
  pending: F | undefined;
  lastDispatchAt: number;
  /** Dispatch times of the frames in flight, oldest first. */
  readonly dispatchTimes: number[];
  readonly counters: CameraCounters;
}

function intervalOf(maxDetectFps: number): number {
  if (!(maxDetectFps >= 0)) throw new Error(`maxDetectFps must be 0 or more; got ${maxDetectFps}`);
  return maxDetectFps > 0 && Number.isFinite(maxDetectFps) ? 1000 / maxDetectFps : 0;
}

/** `F` is the frame type: `Frame` in the pipeline, anything in tests. */
export class FrameScheduler<F = Frame> {
  private readonly cameras = new Map<string, CameraSlot<F>>();
  private running = 0;
  /** In-flight frames of removed cameras: `done` for them frees a pool slot only. */
  private orphans = 0;

  /** `capacity`: frames in flight at once over all cameras, normally the inference pool's size. */
  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`capacity must be at least 1; got ${capacity}`);
  }

  /** Frames dispatched and not yet reported done. */
  get inFlight(): number {
    return this.running;
  }

  get cameraIds(): string[] {
    return [...this.cameras.keys()];
  }

  addCamera(id: string, options: CameraScheduleOptions): void {
    if (this.cameras.has(id)) throw new Error(`camera ${id} is already scheduled`);
    this.cameras.set(id, {
      id,
      interval: intervalOf(options.maxDetectFps),
      maxInFlight: Math.max(1, options.maxInFlight),
      due: Number.NEGATIVE_INFINITY,
      pending: undefined,
      lastDispatchAt: Number.NEGATIVE_INFINITY,
      dispatchTimes: [],
      counters: { offered: 0, skipped: 0, dispatched: 0, completed: 0, busyMs: 0 },
    });
  }

  /** Changes a camera's rate or in-flight limit without losing its place in the rotation. */
  configure(id: string, options: CameraScheduleOptions): void {
    const cam = this.camera(id);
    cam.interval = intervalOf(options.maxDetectFps);
    cam.maxInFlight = Math.max(1, options.maxInFlight);
  }

  /**
   * Forgets a camera and returns its pending frame, which is dropped. Frames of it still in flight keep
   * their slots until `done` is called for them.
   */
  removeCamera(id: string): F | undefined {
    const cam = this.cameras.get(id);
    if (!cam) return undefined;
    this.cameras.delete(id);
    // Its in-flight frames are no longer tracked per camera, but they still hold pool slots.
    this.orphans += cam.dispatchTimes.length;
    if (cam.pending !== undefined) cam.counters.skipped++;
    return cam.pending;
  }

  /**
   * A new frame from a camera. Returns the frame dropped as a result: the pending frame it replaced, or
   * `frame` itself when the camera is not scheduled (a source can emit after its camera was removed).
   */
  offer(id: string, frame: F, _now: number): F | undefined {
    const cam = this.cameras.get(id);
    if (!cam) return frame;
    cam.counters.offered++;
    const dropped = cam.pending;
    if (dropped !== undefined) cam.counters.skipped++;
    cam.pending = frame;
    return dropped;
  }

  /**
   * The frame to process now, if a slot is free and a camera is eligible; the caller must call `done` when
   * it has been processed. Call repeatedly until undefined to fill free slots.
   */
  next(now: number): Dispatch<F> | undefined {
    if (this.running >= this.capacity) return undefined;
    let chosen: CameraSlot<F> | undefined;
    for (const cam of this.cameras.values()) {
      // Strict `<`: on a tie the camera added first wins, which keeps the rotation deterministic.
      if (this.eligible(cam, now) && (!chosen || cam.lastDispatchAt < chosen.lastDispatchAt)) chosen = cam;
    }
    if (!chosen) return undefined;
    const frame = chosen.pending!;
    chosen.pending = undefined;
    chosen.lastDispatchAt = now;
    // Keep to a grid of `interval` so a dispatch late by jitter doesn't push the next one back, but never
    // let credit build up beyond half an interval after an idle spell: the long-run rate stays at most
    // maxDetectFps, and a source running at exactly that rate with a little jitter loses no frames.
    chosen.due = Math.max(chosen.due + chosen.interval, now + chosen.interval / 2);
    chosen.dispatchTimes.push(now);
    chosen.counters.dispatched++;
    this.running++;
    return { id: chosen.id, frame };
  }

  /** A dispatched frame of `id` has been processed (or failed): its pool slot is free again. */
  done(id: string, now: number): void {
    if (this.running === 0) throw new Error(`done(${id}) without a frame in flight`);
    this.running--;
    const cam = this.cameras.get(id);
    const dispatchedAt = cam?.dispatchTimes.shift();
    if (cam && dispatchedAt !== undefined) {
      cam.counters.completed++;
      cam.counters.busyMs += now - dispatchedAt;
    } else if (this.orphans > 0) {
      this.orphans--;
    }
  }

  /**
   * The earliest time at which a pending frame becomes eligible by its camera's rate cap (possibly ≤ now),
   * ignoring pool capacity; undefined when no camera has a frame that could go. A driver sleeps until then.
   */
  nextDueAt(): number | undefined {
    let due: number | undefined;
    for (const cam of this.cameras.values()) {
      if (cam.pending === undefined || cam.dispatchTimes.length >= cam.maxInFlight) continue;
      if (due === undefined || cam.due < due) due = cam.due;
    }
    return due;
  }

  hasPending(id: string): boolean {
    return this.cameras.get(id)?.pending !== undefined;
  }

  /** A live view of a camera's counters; undefined for an unknown camera. */
  counters(id: string): Readonly<CameraCounters> | undefined {
    return this.cameras.get(id)?.counters;
  }

  private eligible(cam: CameraSlot<F>, now: number): boolean {
    return cam.pending !== undefined && cam.dispatchTimes.length < cam.maxInFlight && now >= cam.due;
  }

  private camera(id: string): CameraSlot<F> {
    const cam = this.cameras.get(id);
    if (!cam) throw new Error(`camera ${id} is not scheduled`);
    return cam;
  }
}

export interface SchedulerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface SchedulerDriver<F> {
  /** Offers a frame at the clock's time and dispatches what can go; returns the dropped frame, if any. */
  offer(id: string, frame: F): F | undefined;
  /** Fills free slots; call after changing cameras or rates. */
  pump(): void;
  /** No more dispatches; frames in flight finish. */
  stop(): void;
}

/**
 * Runs `process` for each dispatched frame, as many at once as the scheduler's capacity, and sleeps until
 * the next rate-capped frame is due. `process` should handle its own errors; a rejection goes to `onError`
 * and still frees the slot.
 */
export function runScheduler<F>(
  scheduler: FrameScheduler<F>,
  process: (id: string, frame: F) => Promise<void>,
  clock: SchedulerClock = systemClock,
  onError: (id: string, error: unknown) => void = () => {},
): SchedulerDriver<F> {
  let stopped = false;
  let timer: unknown;
  let timerAt = Number.POSITIVE_INFINITY;

  const finish = (id: string) => {
    scheduler.done(id, clock.now());
    pump();
  };

  const launch = ({ id, frame }: Dispatch<F>) => {
    // Through a promise chain so a synchronous throw in `process` is handled like a rejection.
    Promise.resolve()
      .then(() => process(id, frame))
      .catch((error: unknown) => onError(id, error))
      .finally(() => finish(id));
  };

  const wake = () => {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    pump();
  };

  function pump(): void {
    if (stopped) return;
    const now = clock.now();
    for (let job = scheduler.next(now); job; job = scheduler.next(now)) launch(job);
    // Sleep only when a slot is free and a frame waits on its rate cap; otherwise `done` or `offer` wakes us.
    const due = scheduler.inFlight < scheduler.capacity ? scheduler.nextDueAt() : undefined;
    if (due === undefined || due <= now) return;
    if (timer !== undefined && timerAt <= due) return;
    if (timer !== undefined) clock.clearTimeout(timer);
    timerAt = due;
    timer = clock.setTimeout(wake, due - now);
  }

  return {
    offer(id, frame) {
      const dropped = scheduler.offer(id, frame, clock.now());
      pump();
      return dropped;
    },
    pump,
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
    },
  };
}
