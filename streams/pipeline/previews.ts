// Previews carry the detections of their own frame. A preview waits until its frame's fate is known: processed
// (its own detections) or skipped by the scheduler (the tracker's predicted boxes at the frame's capture time).
// Previews are emitted in frame order, so a skipped frame's prediction is taken after every earlier frame has
// updated the tracker. Boxes in a preview are scaled to the preview's size (its detections' width/height).
import type { Box } from '../../models/box.ts';
import type { Logger } from '../../models/logger.ts';
import type { Detections, Frame, TrackedFace } from '../types.ts';
import { type Encoded, encodeJpeg } from './crops.ts';

/** What the hub sends as `preview`: a downscaled JPEG and the detections of that same frame, in its pixels. */
export interface PreviewMessage {
  cameraId: string;
  seq: number;
  jpeg: Uint8Array;
  /** Boxes scaled to the JPEG's size, which is `width`×`height`. */
  detections: Detections;
  /** The motion gate's moving regions in this frame, in the JPEG's pixels (absent: motion gating is off). */
  motion?: Box[];
}

/** A frame's fate, for its preview: its own faces, the tracker's prediction, or no preview at all. */
export type PreviewFate = { faces: TrackedFace[]; width: number; height: number } | 'predict' | 'drop';

export interface PreviewJob {
  seq: number;
  capturedAt: number;
  frameWidth: number;
  frameHeight: number;
  encoded: Promise<Encoded | undefined>;
  fate: Promise<PreviewFate>;
  decide(fate: PreviewFate): void;
  /** The motion gate's moving regions in the frame, in frame pixels (set as the frame arrives). */
  motion?: Box[];
}

/**
 * Previews waiting for their frame's fate or their JPEG; beyond this, new ones are skipped. They wait behind
 * detection, so this is about 3 s of previews at 10 fps.
 */
const MAX_PENDING_PREVIEWS = 30;

export interface PreviewQueueOptions {
  cameraId: string;
  /** Previews per second (0: none). */
  fps: number;
  /** Preview width in pixels (never enlarged). */
  width: number;
  /** JPEG quality. */
  quality: number;
  logger: Logger;
  /** The tracker's boxes at a time, for a frame whose detection was skipped. */
  predict(at: number): TrackedFace[];
  /** False once the pipeline stops: no preview is emitted after that. */
  running(): boolean;
  emit(preview: PreviewMessage): void;
}

/** One camera's previews: which frames get one, their JPEGs, and their emission in frame order. */
export class PreviewQueue {
  /** Previews wanted at all (the hub may switch them off while nobody watches). */
  enabled = true;
  private readonly jobs = new Map<number, PreviewJob>();
  private chain: Promise<void> = Promise.resolve();
  private nextAt = Number.NEGATIVE_INFINITY;
  private readonly interval: number;

  constructor(private readonly o: PreviewQueueOptions) {
    this.interval = o.fps > 0 ? 1000 / o.fps : 0;
  }

  /** The preview waiting for frame `seq`'s fate, if that frame has one. */
  get(seq: number): PreviewJob | undefined {
    return this.jobs.get(seq);
  }

  /** Starts a preview of this source frame when one is due. */
  offer(frame: Frame): void {
    if (this.due(frame)) this.start(frame);
  }

  /** Every waiting preview is dropped (the pipeline is stopping). */
  dropAll(): void {
    for (const job of this.jobs.values()) job.decide('drop');
  }

  /** Settles once every preview started so far has been emitted or dropped. */
  drained(): Promise<void> {
    return this.chain;
  }

  clear(): void {
    this.jobs.clear();
  }

  private due(frame: Frame): boolean {
    if (!this.enabled || this.interval <= 0) return false;
    const t = frame.capturedAt;
    if (t < this.nextAt || this.jobs.size >= MAX_PENDING_PREVIEWS) return false;
    // On a grid, so jitter does not lower the rate, without building up credit after a gap.
    this.nextAt = Math.max(this.nextAt + this.interval, t + this.interval / 2);
    return true;
  }

  private start(frame: Frame): void {
    let decide: (fate: PreviewFate) => void = () => {};
    const fate = new Promise<PreviewFate>((resolve) => {
      decide = resolve;
    });
    const job: PreviewJob = {
      seq: frame.seq,
      capturedAt: frame.capturedAt,
      frameWidth: frame.image.width,
      frameHeight: frame.image.height,
      // From the source frame itself: it is never transferred (see pipeline.ts).
      encoded: encodeJpeg(frame.image, this.o.width, this.o.quality).catch((err: unknown) => {
        this.o.logger.warn({ camera: this.o.cameraId, err: (err as Error).message }, 'preview encoding failed');
        return undefined;
      }),
      fate,
      decide,
    };
    this.jobs.set(frame.seq, job);
    this.chain = this.chain
      .then(() => this.emit(job))
      .catch((err: unknown) => {
        this.o.logger.error({ camera: this.o.cameraId, err: (err as Error).message }, 'preview failed');
      });
  }

  private async emit(job: PreviewJob): Promise<void> {
    const [encoded, fate] = await Promise.all([job.encoded, job.fate]);
    this.jobs.delete(job.seq);
    if (!encoded || fate === 'drop' || !this.o.running()) return;
    const faces = fate === 'predict' ? this.o.predict(job.capturedAt) : fate.faces;
    const frameWidth = fate === 'predict' ? job.frameWidth : fate.width;
    const frameHeight = fate === 'predict' ? job.frameHeight : fate.height;
    const [sx, sy] = [encoded.width / job.frameWidth, encoded.height / job.frameHeight];
    this.o.emit({
      cameraId: this.o.cameraId,
      seq: job.seq,
      jpeg: encoded.data,
      detections: {
        cameraId: this.o.cameraId,
        seq: job.seq,
        frameTime: job.capturedAt,
        width: encoded.width,
        height: encoded.height,
        faces: scaleFaces(faces, encoded.width / frameWidth, encoded.height / frameHeight),
      },
      ...(job.motion ? { motion: job.motion.map((b) => scaleBox(b, sx, sy)) } : {}),
    });
  }
}

function scaleBox({ x1, y1, x2, y2 }: Box, sx: number, sy: number): Box {
  return { x1: x1 * sx, y1: y1 * sy, x2: x2 * sx, y2: y2 * sy };
}

function scaleFaces(faces: readonly TrackedFace[], sx: number, sy: number): TrackedFace[] {
  if (sx === 1 && sy === 1) return [...faces];
  return faces.map((f) => {
    const out: TrackedFace = { ...f, box: scaleBox(f.box, sx, sy) };
    if (f.landmarks) out.landmarks = f.landmarks.map(([x, y]) => [x * sx, y * sy]);
    return out;
  });
}
