// One camera's live pipeline: source frames → shared scheduler → inference pool (detection, and embeddings when
// the tracker wants them) → tracker (which asks the matcher about each track's evidence) → detections, previews
// and person events.
//
// Pixels and the buffer transfer. `pool.analyzeFrame` transfers the image's buffer to a worker thread, which
// leaves it detached here. The pipeline never hands over a source frame's own buffer: each dispatched frame is
// copied once (a plain memcpy, ~1 ms for 1280×720) and the COPY is transferred. The source frame stays intact
// for as long as the pipeline needs it, so:
// - a preview is encoded (sharp resize + JPEG) straight from the source frame as it arrives, whether or not
//   the frame is ever dispatched, and without a copy;
// - best-face crops are cut from the source frame after its detections are known (the tracker says which
//   faces are now their track's best); only the face region is kept (raw RGB, small), and it is encoded to
//   JPEG once, lazily, when an event needs it.
//
// Previews carry the detections of their own frame. A preview waits until its frame's fate is known: processed
// (its own detections) or skipped by the scheduler (the tracker's predicted boxes at the frame's capture time).
// Previews are emitted in frame order, so a skipped frame's prediction is taken after every earlier frame has
// updated the tracker. Boxes in a preview are scaled to the preview's size (its detections' width/height).
import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import type { Matcher } from '../facebank/recognize.ts';
import type { RgbImage } from '../models/image.ts';
import type { DetectOptions } from '../models/mtcnn/detector.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import type { EventsStore } from './events.ts';
import type { StreamLogger } from './ffmpeg.ts';
import {
  type CameraCounters,
  type CameraScheduleOptions,
  FrameScheduler,
  runScheduler,
  type SchedulerClock,
  type SchedulerDriver,
  systemClock,
} from './scheduler.ts';
import { FaceTracker, type Observation, type TrackerDetection, type TrackerOptions } from './tracker.ts';
import type {
  Box,
  CameraHealth,
  CameraKind,
  CameraState,
  Detections,
  Frame,
  FrameSource,
  PersonEvent,
  TrackedFace,
} from './types.ts';

const silent: StreamLogger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * MTCNN settings for video frames, where every frame's cost is latency. R-Net's and O-Net's cost grows with the
 * P-Net candidates, which a cluttered 1280×720 frame has by the hundred, so the candidate stages are stricter
 * than for still images while O-Net's final gate is the same:
 * - score thresholds 0.7 / 0.8 / 0.7 (stills: 0.6 / 0.7 / 0.7);
 * - candidates of different pyramid levels merged from IoU 0.5 (stills: 0.7): 28–30% fewer candidates on the
 *   test scenes, and still all 42 faces of a 40-photo crowd at 1280×720;
 * - at most 200 candidates, against pathological clutter (that crowd has 355).
 * A face the stricter stages miss in one frame keeps its track (tracks survive missed frames).
 */
export const VIDEO_DETECT_OPTIONS: Partial<DetectOptions> = {
  thresholds: [0.7, 0.8, 0.7],
  crossScaleNms: 0.5,
  maxCandidates: 200,
};

/**
 * Faces embedded per video frame at most. A cut to a crowded scene brings many new faces at once, each wanting
 * an embedding (~15 ms on a CPU core) on each of its first frames; unbounded, that frame's lag doubles. With
 * the budget the largest are embedded first and the others in the next frames (settled faces are skipped), so
 * a sixth face is named a few frames later instead of every face being late.
 */
export const MAX_EMBEDDINGS_PER_FRAME = 3;

/** What the hub sends as `preview`: a downscaled JPEG and the detections of that same frame, in its pixels. */
export interface PreviewMessage {
  cameraId: string;
  seq: number;
  jpeg: Uint8Array;
  /** Boxes scaled to the JPEG's size, which is `width`×`height`. */
  detections: Detections;
}

// ---------------------------------------------------------------------------------------------------------------
// The scheduler shared by every camera

/**
 * One FrameScheduler for all cameras (capacity = the pool's size) with its runScheduler driver; each pipeline
 * registers a handler under its own key. Created by the registry and passed to every pipeline.
 */
export class SharedScheduler {
  readonly scheduler: FrameScheduler<Frame>;
  private readonly driver: SchedulerDriver<Frame>;
  private readonly handlers = new Map<string, (frame: Frame) => Promise<void>>();

  constructor(capacity: number, clock: SchedulerClock = systemClock, logger: StreamLogger = silent) {
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

// ---------------------------------------------------------------------------------------------------------------
// Sliding-window statistics

/** Events per second over the last `windowMs`. */
export class RateWindow {
  private readonly times: number[] = [];
  private readonly since: number;

  constructor(
    private readonly windowMs = 5000,
    now = Date.now(),
  ) {
    this.since = now;
  }

  add(now: number): void {
    this.times.push(now);
    this.evict(now);
  }

  rate(now: number): number {
    this.evict(now);
    const span = Math.min(this.windowMs, Math.max(1000, now - this.since));
    return round1((this.times.length * 1000) / span);
  }

  private evict(now: number): void {
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! <= now - this.windowMs) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}

/** Percentiles of values recorded over the last `windowMs` (at most `max` values). */
export class LagWindow {
  private readonly samples: { at: number; value: number }[] = [];

  constructor(
    private readonly windowMs = 10_000,
    private readonly max = 600,
  ) {}

  add(now: number, value: number): void {
    this.samples.push({ at: now, value });
    if (this.samples.length > this.max) this.samples.shift();
  }

  percentiles(now: number): { p50: number; p95: number } {
    let drop = 0;
    while (drop < this.samples.length && this.samples[drop]!.at <= now - this.windowMs) drop++;
    if (drop > 0) this.samples.splice(0, drop);
    if (this.samples.length === 0) return { p50: 0, p95: 0 };
    const sorted = this.samples.map((s) => s.value).sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
    return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)) };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

// ---------------------------------------------------------------------------------------------------------------
// Pixels

/** A region of an RGB image, copied row by row (no sharp round trip: a face crop is small). */
export function cutRegion(image: RgbImage, box: Box, margin: number): RgbImage | undefined {
  const [bx1, by1, bx2, by2] = box;
  const mw = (bx2 - bx1) * margin;
  const mh = (by2 - by1) * margin;
  const x1 = Math.max(0, Math.floor(bx1 - mw));
  const y1 = Math.max(0, Math.floor(by1 - mh));
  const x2 = Math.min(image.width, Math.ceil(bx2 + mw));
  const y2 = Math.min(image.height, Math.ceil(by2 + mh));
  const width = x2 - x1;
  const height = y2 - y1;
  if (width < 2 || height < 2) return undefined;
  const data = new Uint8Array(width * height * 3);
  const srcRow = image.width * 3;
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    const from = (y1 + y) * srcRow + x1 * 3;
    data.set(image.data.subarray(from, from + row), y * row);
  }
  return { data, width, height };
}

interface Encoded {
  data: Uint8Array;
  width: number;
  height: number;
}

async function encodeJpeg(image: RgbImage, maxWidth: number, quality: number): Promise<Encoded> {
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (maxWidth > 0 && image.width > maxWidth) pipeline = pipeline.resize({ width: maxWidth });
  const { data, info } = await pipeline.jpeg({ quality }).toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

function scaleFaces(faces: readonly TrackedFace[], sx: number, sy: number): TrackedFace[] {
  if (sx === 1 && sy === 1) return [...faces];
  return faces.map((f) => {
    const out: TrackedFace = { ...f, box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy] };
    if (f.landmarks) out.landmarks = f.landmarks.map(([x, y]) => [x * sx, y * sy]);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The pipeline

export interface PipelineOptions {
  cameraId: string;
  /** Shown in health. */
  name: string;
  source: FrameSource;
  scheduler: SharedScheduler;
  pool: Pick<FacePool, 'analyzeFrame'>;
  matcher: Matcher;
  /** Person events are stored here before they are emitted (the id comes from the store). */
  events: EventsStore;
  /** Detections per second at most (default 10). */
  maxDetectFps?: number;
  /**
   * Frames of this camera analysed at once (default: 2, or 1 with a pool of one). Above 1, one camera can use
   * two workers when the others leave them idle; results are put back in frame order before the tracker.
   */
  maxInFlight?: number;
  /** Smallest face searched for, in frame pixels (default 40). */
  minFaceSize?: number;
  /** Previews per second (default 10; 0: none). */
  previewFps?: number;
  /** Preview width in pixels (default 640; never enlarged). */
  previewWidth?: number;
  /** Preview JPEG quality (default 70). */
  previewQuality?: number;
  /** Crop margin around the face box, as a fraction of its size on each side (default 0.3). */
  cropMargin?: number;
  /** Crops are at most this wide (default 320); JPEG quality 85. */
  cropMaxWidth?: number;
  tracker?: Partial<TrackerOptions>;
  logger?: StreamLogger;
}

type PipelineEvents = {
  detections: [Detections];
  preview: [PreviewMessage];
  event: [PersonEvent];
  /** The camera's state changed (health included). */
  state: [CameraHealth];
};

/** A frame's fate, for its preview: its own faces, the tracker's prediction, or no preview at all. */
type PreviewFate = { faces: TrackedFace[]; width: number; height: number } | 'predict' | 'drop';

interface PreviewJob {
  seq: number;
  capturedAt: number;
  frameWidth: number;
  frameHeight: number;
  encoded: Promise<Encoded | undefined>;
  fate: Promise<PreviewFate>;
  decide(fate: PreviewFate): void;
}

interface KeptCrop {
  image: RgbImage;
  jpeg?: Promise<Uint8Array | undefined>;
}

/**
 * Previews waiting for their frame's fate or their JPEG; beyond this, new ones are skipped. They wait behind
 * detection, so this is about 3 s of previews at 10 fps.
 */
const MAX_PENDING_PREVIEWS = 30;

let nextPipelineKey = 1;

export class CameraPipeline extends EventEmitter<PipelineEvents> {
  readonly cameraId: string;
  name: string;
  readonly kind: CameraKind;
  private readonly source: FrameSource;
  private readonly sched: SharedScheduler;
  private readonly pool: Pick<FacePool, 'analyzeFrame'>;
  private readonly matcher: Matcher;
  private readonly events: EventsStore;
  private readonly logger: StreamLogger;
  private readonly tracker: FaceTracker;
  /** The scheduler key: unique per pipeline, so a restarted camera never inherits its predecessor's frames. */
  private readonly key: string;
  private maxDetectFps: number;
  private readonly maxInFlight: number;
  private readonly minFaceSize: number;
  private readonly previewInterval: number;
  private readonly previewWidth: number;
  private readonly previewQuality: number;
  private readonly cropMargin: number;
  private readonly cropMaxWidth: number;

  private state: CameraState = 'stopped';
  private running = false;
  private stopping: Promise<void> | undefined;
  private lastError: string | undefined;
  private reconnects = 0;
  private lastFrameAt: number | undefined;
  private lastUpdateAt = Number.NEGATIVE_INFINITY;
  private inputRate = new RateWindow();
  private processedRate = new RateWindow();
  private readonly lag = new LagWindow();
  /** Settles once every frame dispatched so far has been handled (never rejects). */
  private handled: Promise<void> = Promise.resolve();
  private eventChain: Promise<void> = Promise.resolve();
  private previewChain: Promise<void> = Promise.resolve();
  private readonly previews = new Map<number, PreviewJob>();
  private nextPreviewAt = Number.NEGATIVE_INFINITY;
  /** Previews wanted at all (the hub may switch them off while nobody watches). */
  private previewOn = true;
  private readonly crops = new Map<number, KeptCrop>();
  private failures = 0;

  private readonly onFrame = (frame: Frame) => this.frameArrived(frame);
  private readonly onState = (state: CameraState, error?: string) => this.stateChanged(state, error);

  constructor(o: PipelineOptions) {
    super();
    this.cameraId = o.cameraId;
    this.name = o.name;
    this.source = o.source;
    this.kind = o.source.kind;
    this.sched = o.scheduler;
    this.pool = o.pool;
    this.matcher = o.matcher;
    this.events = o.events;
    this.logger = o.logger ?? silent;
    this.tracker = new FaceTracker({ match: (embedding) => this.matchOf(embedding) }, o.tracker);
    this.key = `${o.cameraId}#${nextPipelineKey++}`;
    this.maxDetectFps = o.maxDetectFps ?? 10;
    this.maxInFlight = Math.max(1, o.maxInFlight ?? Math.min(2, o.scheduler.capacity));
    this.minFaceSize = o.minFaceSize ?? 40;
    const previewFps = o.previewFps ?? 10;
    this.previewInterval = previewFps > 0 ? 1000 / previewFps : 0;
    this.previewWidth = o.previewWidth ?? 640;
    this.previewQuality = o.previewQuality ?? 70;
    this.cropMargin = o.cropMargin ?? 0.3;
    this.cropMaxWidth = o.cropMaxWidth ?? 320;
  }

  /** Subscribes to the source, joins the scheduler and starts the source. Once only. */
  start(): void {
    if (this.running || this.stopping) return;
    this.running = true;
    const now = Date.now();
    this.inputRate = new RateWindow(5000, now);
    this.processedRate = new RateWindow(5000, now);
    this.state = 'connecting';
    this.sched.add(this.key, this.scheduleOptions(), (frame) => this.process(frame));
    this.source.on('frame', this.onFrame);
    this.source.on('state', this.onState);
    try {
      this.source.start();
    } catch (err) {
      this.stateChanged('reconnecting', `cannot start the source: ${(err as Error).message}`);
    }
  }

  /**
   * Stops the source (its decoder is gone when this resolves), lets the frame in flight finish, ends every
   * track (their person_left events are stored and emitted) and drops previews and crops.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  get isRunning(): boolean {
    return this.running;
  }

  setMaxDetectFps(fps: number): void {
    this.maxDetectFps = fps;
    if (this.running) this.sched.configure(this.key, this.scheduleOptions());
  }

  private scheduleOptions(): CameraScheduleOptions {
    return { maxDetectFps: this.maxDetectFps, maxInFlight: this.maxInFlight };
  }

  /** Turns previews on or off (e.g. while no client watches this camera); on by default. */
  setPreviewEnabled(on: boolean): void {
    this.previewOn = on;
  }

  health(now = Date.now()): CameraHealth {
    const h: CameraHealth = {
      id: this.cameraId,
      name: this.name,
      kind: this.kind,
      state: this.state,
      inputFps: this.running ? this.inputRate.rate(now) : 0,
      processedFps: this.running ? this.processedRate.rate(now) : 0,
      lagMs: this.lag.percentiles(now),
      reconnects: this.reconnects,
    };
    if (this.lastError !== undefined) h.lastError = this.lastError;
    if (this.lastFrameAt !== undefined) h.lastFrameAt = this.lastFrameAt;
    return h;
  }

  /** The scheduler's counters for this camera (offered, skipped, dispatched, completed, busyMs). */
  counters(): Readonly<CameraCounters> | undefined {
    return this.sched.counters(this.key);
  }

  /** Emits without letting a listener's exception break the pipeline (it is logged). */
  private publish<K extends keyof PipelineEvents>(event: K, ...args: PipelineEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PipelineEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error({ camera: this.cameraId, event, err: (err as Error).message }, 'a listener failed');
    }
  }

  // --- frames in ------------------------------------------------------------------------------------------

  private frameArrived(frame: Frame): void {
    if (!this.running) return;
    this.inputRate.add(Date.now());
    this.lastFrameAt = frame.capturedAt;
    if (this.previewDue(frame)) this.startPreview(frame);
    const dropped = this.sched.offer(this.key, frame);
    if (dropped) this.previews.get(dropped.seq)?.decide('predict');
  }

  private stateChanged(state: CameraState, error?: string): void {
    if (!this.running) return;
    if (state === 'reconnecting') this.reconnects++;
    if (error) this.lastError = error;
    this.state = state;
    this.publish('state', this.health());
  }

  // --- detection ------------------------------------------------------------------------------------------

  /**
   * Called by the scheduler for each dispatched frame, in dispatch order. With more than one frame of this
   * camera in flight, results can come back out of order: each frame's result waits for the previous frame's
   * to be handled, so the tracker sees time move forward.
   */
  private process(frame: Frame): Promise<void> {
    const previous = this.handled;
    const run = this.analyze(frame, previous);
    // A failure (reported by the scheduler's onError) must not hold up the frames after it.
    this.handled = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async analyze(frame: Frame, previous: Promise<void>): Promise<void> {
    const preview = this.previews.get(frame.seq);
    try {
      await this.detect(frame, previous, preview);
    } finally {
      // Whatever happened, the preview must not wait forever (a no-op when already decided).
      preview?.decide('predict');
    }
  }

  private async detect(frame: Frame, previous: Promise<void>, preview: PreviewJob | undefined): Promise<void> {
    if (!this.running) {
      preview?.decide('drop');
      return;
    }
    const now = frame.capturedAt;
    const { width, height } = frame.image;
    // The copy goes to the worker (and is detached here); the source frame stays whole for previews and crops.
    const copy: RgbImage = { data: new Uint8Array(frame.image.data), width, height };
    const analysis = this.pool
      .analyzeFrame(copy, {
        detect: { ...VIDEO_DETECT_OPTIONS, minFaceSize: this.minFaceSize },
        skipEmbeddingNear: this.tracker
          .settledFaces(now)
          .map(({ box: [x1, y1, x2, y2], signature }) =>
            signature ? { x1, y1, x2, y2, signature } : { x1, y1, x2, y2 },
          ),
        knownLookAlike: this.tracker.options.recheckBelow,
        maxEmbeddings: MAX_EMBEDDINGS_PER_FRAME,
        signatures: true,
      })
      .then(
        (result) => ({ result, error: undefined }),
        (error: unknown) => ({ result: undefined, error }),
      );
    const [{ result, error }] = await Promise.all([analysis, previous]);
    if (!result) {
      this.analysisFailed(error);
      preview?.decide('predict');
      return;
    }
    this.failures = 0;
    // Time must move forward for the tracker (it does: frames are handled in dispatch order).
    if (now < this.lastUpdateAt) {
      preview?.decide('predict');
      return;
    }
    const detections: TrackerDetection[] = result.faces.map((f) => ({
      box: f.box,
      score: f.score,
      landmarks: f.landmarks,
      embedding: f.embedding.length > 0 ? f.embedding : undefined,
      signature: f.signature,
      quality: f.quality.score,
    }));
    const update = this.tracker.update(detections, now, frame.seq);
    this.lastUpdateAt = now;
    for (let i = 0; i < update.faces.length; i++) {
      if (!update.best[i]) continue;
      const face = update.faces[i]!;
      const image = cutRegion(frame.image, face.box, this.cropMargin);
      if (image) this.crops.set(face.trackId, { image });
    }
    const out: Detections = {
      cameraId: this.cameraId,
      seq: frame.seq,
      frameTime: now,
      width: result.width,
      height: result.height,
      faces: update.faces,
    };
    if (this.running) {
      const doneAt = Date.now();
      this.processedRate.add(doneAt);
      this.lag.add(doneAt, doneAt - now);
      this.publish('detections', out);
    }
    preview?.decide({ faces: update.faces, width: result.width, height: result.height });
    for (const event of update.events) this.queueEvent(event);
    for (const trackId of update.released) this.crops.delete(trackId);
  }

  private matchOf(embedding: Float32Array): Observation | undefined {
    try {
      const m = this.matcher.match(embedding);
      return { name: m.name, score: m.score };
    } catch (err) {
      // E.g. the facebank switched embedders: no answer this time rather than a failed frame.
      this.logger.warn({ camera: this.cameraId, err: (err as Error).message }, 'matching failed');
      return undefined;
    }
  }

  private analysisFailed(err: unknown): void {
    const message = (err as Error)?.message ?? String(err);
    this.lastError = `detection failed: ${message}`;
    // Once per streak: an overloaded pool would otherwise log every frame.
    if (this.failures++ === 0) this.logger.warn({ camera: this.cameraId, err: message }, 'frame analysis failed');
  }

  // --- events ---------------------------------------------------------------------------------------------

  private queueEvent(event: ReturnType<FaceTracker['update']>['events'][number]): void {
    // Taken now: the crop may be released right after this call.
    const crop = this.crops.get(event.best.trackId);
    this.eventChain = this.eventChain.then(async () => {
      try {
        const jpeg = crop ? await this.encodeCrop(crop) : undefined;
        const stored: Omit<PersonEvent, 'id'> = {
          type: event.type,
          cameraId: this.cameraId,
          trackId: event.trackId,
          name: event.name,
          score: event.score,
          at: event.at,
        };
        if (jpeg) stored.crop = jpeg;
        const id = this.events.insert(stored);
        this.publish('event', { id, ...stored });
      } catch (err) {
        // A StorageError is a dropped event, already counted and logged (per streak) by the store.
        if ((err as Error).name !== 'StorageError')
          this.logger.error({ camera: this.cameraId, err: (err as Error).message }, 'storing a person event failed');
      }
    });
  }

  private encodeCrop(crop: KeptCrop): Promise<Uint8Array | undefined> {
    crop.jpeg ??= encodeJpeg(crop.image, this.cropMaxWidth, 85).then(
      (e) => e.data,
      () => undefined,
    );
    return crop.jpeg;
  }

  // --- previews -------------------------------------------------------------------------------------------

  private previewDue(frame: Frame): boolean {
    if (!this.previewOn || this.previewInterval <= 0) return false;
    const t = frame.capturedAt;
    if (t < this.nextPreviewAt || this.previews.size >= MAX_PENDING_PREVIEWS) return false;
    // On a grid, so jitter does not lower the rate, without building up credit after a gap.
    this.nextPreviewAt = Math.max(this.nextPreviewAt + this.previewInterval, t + this.previewInterval / 2);
    return true;
  }

  private startPreview(frame: Frame): void {
    let decide: (fate: PreviewFate) => void = () => {};
    const fate = new Promise<PreviewFate>((resolve) => {
      decide = resolve;
    });
    const job: PreviewJob = {
      seq: frame.seq,
      capturedAt: frame.capturedAt,
      frameWidth: frame.image.width,
      frameHeight: frame.image.height,
      // From the source frame itself: it is never transferred (see the file comment).
      encoded: encodeJpeg(frame.image, this.previewWidth, this.previewQuality).catch((err: unknown) => {
        this.logger.warn({ camera: this.cameraId, err: (err as Error).message }, 'preview encoding failed');
        return undefined;
      }),
      fate,
      decide,
    };
    this.previews.set(frame.seq, job);
    this.previewChain = this.previewChain
      .then(() => this.emitPreview(job))
      .catch((err: unknown) => {
        this.logger.error({ camera: this.cameraId, err: (err as Error).message }, 'preview failed');
      });
  }

  private async emitPreview(job: PreviewJob): Promise<void> {
    const [encoded, fate] = await Promise.all([job.encoded, job.fate]);
    this.previews.delete(job.seq);
    if (!encoded || fate === 'drop' || !this.running) return;
    const faces = fate === 'predict' ? this.tracker.predict(job.capturedAt) : fate.faces;
    const frameWidth = fate === 'predict' ? job.frameWidth : fate.width;
    const frameHeight = fate === 'predict' ? job.frameHeight : fate.height;
    this.publish('preview', {
      cameraId: this.cameraId,
      seq: job.seq,
      jpeg: encoded.data,
      detections: {
        cameraId: this.cameraId,
        seq: job.seq,
        frameTime: job.capturedAt,
        width: encoded.width,
        height: encoded.height,
        faces: scaleFaces(faces, encoded.width / frameWidth, encoded.height / frameHeight),
      },
    });
  }

  // --- stopping -------------------------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    const wasRunning = this.running;
    this.running = false;
    this.source.off('frame', this.onFrame);
    this.source.off('state', this.onState);
    const sourceStopped = this.source.stop().catch((err: unknown) => {
      this.logger.warn({ camera: this.cameraId, err: (err as Error).message }, 'stopping the source failed');
    });
    if (wasRunning) {
      const pending = this.sched.remove(this.key);
      if (pending) this.previews.get(pending.seq)?.decide('drop');
    }
    for (const job of this.previews.values()) job.decide('drop');
    await Promise.all([sourceStopped, this.handled]);
    const flushed = this.tracker.flush(Date.now());
    for (const event of flushed.events) this.queueEvent(event);
    await this.eventChain;
    await this.previewChain;
    this.crops.clear();
    this.previews.clear();
    this.state = 'stopped';
    if (wasRunning) this.publish('state', this.health());
  }
}
