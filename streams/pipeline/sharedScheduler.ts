// The scheduler shared by every camera.
import { type Logger, silentLogger } from '../../models/logger.ts';
import type { Frame } from '../types.ts';
import {
  type CameraCounters,
  type CameraScheduleOptions,
  FrameScheduler,
  runScheduler,
  type SchedulerClock,
  type SchedulerDriver,
  systemClock,
} from './scheduler.ts';

/**
 * One FrameScheduler for all cameras (capacity = the pool's size) with its runScheduler driver; each pipeline
 * registers a handler under its own key. Created by the registry and passed to every pipeline.
 */
export class SharedScheduler {
  readonly scheduler: FrameScheduler<Frame>;
  private readonly driver: SchedulerDriver<Frame>;
  private readonly handlers = new Map<string, (frame: Frame) => Promise<void>>();

  constructor(capacity: number, clock: SchedulerClock = systemClock, logger: Logger = silentLogger) {
    this.scheduler = new FrameScheduler<Frame>(capacity);
    this.driver = runScheduler(
      this.scheduler,
      (key, frame) => this.handlers.get(key)?.(frame) ?? Promise.resolve(),
      clock,
      (key, error) => logger.error({ camera: key, err: error }, 'frame processing failed'),
    );
  }

  get capacity(): number {
    return this.scheduler.capacity;
  }

  add(key: string, options: CameraScheduleOptions, handler: (frame: Frame) => Promise<void>): void {
    this.scheduler.addCamera(key, options);
    this.handlers.set(key, handler);
  }

  configure(key: string, options: CameraScheduleOptions): void {
    this.scheduler.configure(key, options);
    this.driver.pump();
  }

  /** Forgets a camera; returns its pending (never dispatched) frame. Frames in flight still finish. */
  remove(key: string): Frame | undefined {
    this.handlers.delete(key);
    const dropped = this.scheduler.removeCamera(key);
    this.driver.pump();
    return dropped;
  }

  /** Returns the frame dropped as a result (the one replaced, or `frame` when the camera is unknown). */
  offer(key: string, frame: Frame): Frame | undefined {
    return this.driver.offer(key, frame);
  }

  counters(key: string): Readonly<CameraCounters> | undefined {
    return this.scheduler.counters(key);
  }

  stop(): void {
    this.driver.stop();
  }
}
