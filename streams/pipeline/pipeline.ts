// One camera's live pipeline: source frames → shared scheduler → inference pool (detection, and embeddings when
// the tracker wants them) → tracker (which asks the matcher about each track's evidence) → detections, previews
// and person events.
//
// Pixels and the buffer transfer. `pool.analyzeFrame` transfers the image's buffer to a worker thread, which
// leaves it detached here. The pipeline never hands over a source frame's own buffer: each dispatched frame is
// copied once (a plain memcpy) and the COPY is transferred. The source frame stays intact
// for as long as the pipeline needs it, so:
// - a preview is encoded (sharp resize + JPEG) straight from the source frame as it arrives, whether or not
//   the frame is ever dispatched, and without a copy;
// - best-face crops are cut from the source frame after its detections are known (the tracker says which
//   faces are now their track's best); only the face region is kept (raw RGB, small), and it is encoded to
//   JPEG once, lazily, when an event needs it.
// How a preview waits for its frame's fate and keeps frame order: previews.ts.
import { EventEmitter } from 'node:events';
import type { FaceNamer } from '../../facebank/recognize.ts';
import { type Logger, silentLogger } from '../../models/logger.ts';
import type { FacePool } from '../../models/pool/facePool.ts';
import type { EventSink } from '../events.ts';
import type { Observation } from '../tracking/identity.ts';
import { FaceTracker } from '../tracking/tracker.ts';
import type { TrackerDetection } from '../tracking/trackerTypes.ts';
import type { CameraHealth, CameraKind, CameraState, Detections, Frame, FrameSource, PersonEvent } from '../types.ts';
import { cutRegion, encodeJpeg, type KeptCrop } from './crops.ts';
import { type GateSettings, MotionGate } from './motionGate.ts';
import {
  EVENT_CROP,
  MAX_EMBEDDINGS_PER_FRAME,
  type PipelineOptions,
  PREVIEW_QUALITY,
  VIDEO_DETECT_OPTIONS,
} from './pipelineOptions.ts';
import { type PreviewJob, type PreviewMessage, PreviewQueue } from './previews.ts';
import { regionRequest } from './regionRequest.ts';
import type { CameraCounters, CameraScheduleOptions } from './scheduler.ts';
import type { SharedScheduler } from './sharedScheduler.ts';
import { LagWindow, RateWindow } from './stats.ts';

// ---------------------------------------------------------------------------------------------------------------
// The pipeline

type PipelineEvents = {
  detections: [Detections];
  preview: [PreviewMessage];
  event: [PersonEvent];
  /** The camera's state changed (health included). */
  state: [CameraHealth];
};

let nextPipelineKey = 1;

export class CameraPipeline extends EventEmitter<PipelineEvents> {
  readonly cameraId: string;
  name: string;
  readonly kind: CameraKind;
  private readonly source: FrameSource;
  private readonly sched: SharedScheduler;
  private readonly pool: Pick<FacePool, 'analyzeFrame'>;
  private readonly matcher: FaceNamer;
  private readonly events: EventSink;
  private readonly logger: Logger;
  private readonly tracker: FaceTracker;
  /** The scheduler key: unique per pipeline, so a restarted camera never inherits its predecessor's frames. */
  private readonly key: string;
  private maxDetectFps: number;
  private readonly maxInFlight: number;
  private readonly minFaceSize: number;

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
  private readonly previews: PreviewQueue;
  private readonly crops = new Map<number, KeptCrop>();
  private failures = 0;
  private gate: MotionGate | undefined;

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
    this.logger = o.logger ?? silentLogger;
    this.tracker = new FaceTracker({ match: (embedding) => this.matchOf(embedding) }, o.tracker);
    this.key = `${o.cameraId}#${nextPipelineKey++}`;
    this.maxDetectFps = o.maxDetectFps;
    // Above 1, one camera can use two workers when the others leave them idle; results are put back in frame
    // order before the tracker.
    this.maxInFlight = Math.max(1, Math.min(2, o.scheduler.capacity));
    this.minFaceSize = o.minFaceSize;
    if (o.motion) this.setMotion(o.motion);
    this.previews = new PreviewQueue({
      cameraId: o.cameraId,
      fps: o.previewFps,
      width: o.previewWidth,
      quality: PREVIEW_QUALITY,
      logger: this.logger,
      predict: (at) => this.tracker.predict(at),
      running: () => this.running,
      emit: (preview) => this.publish('preview', preview),
    });
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

  /** Motion gating, masks and detection region (README "Motion"); the motion background is kept. */
  setMotion(settings: GateSettings): void {
    if (this.gate) this.gate.configure(settings);
    else this.gate = new MotionGate(settings, this.minFaceSize);
  }

  /** Turns previews on or off (e.g. while no client watches this camera); on by default. */
  setPreviewEnabled(on: boolean): void {
    this.previews.enabled = on;
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
    if (this.gate) h.motion = { ...this.gate.stats };
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
    this.previews.offer(frame);
    // Not analysed (no motion, no live track, or replaced while pending): the preview shows predicted boxes.
    const admitted = this.gate?.admit(frame, this.tracker);
    const job = this.previews.get(frame.seq);
    if (job && this.gate?.lastRegions) job.motion = this.gate.lastRegions;
    const dropped = admitted === false ? frame : this.sched.offer(this.key, frame);
    this.gate?.forget(dropped?.seq);
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
    // The copy (whole or the gate's crop) goes to the worker (and is detached); the frame stays whole here.
    const request = regionRequest(frame.image, this.gate?.take(frame.seq) ?? { kind: 'whole' });
    const analysis = this.pool
      .analyzeFrame(request.image, {
        detect: { ...VIDEO_DETECT_OPTIONS, minFaceSize: this.minFaceSize },
        skipEmbeddingNear: request.known(this.tracker.settledFaces(now)),
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
    const detections: TrackerDetection[] = request.faces(result.faces, this.gate?.region ?? null).map((f) => ({
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
      const image = cutRegion(frame.image, face.box, EVENT_CROP.margin);
      if (image) this.crops.set(face.trackId, { image });
    }
    const out: Detections = {
      cameraId: this.cameraId,
      seq: frame.seq,
      frameTime: now,
      width,
      height,
      faces: update.faces,
    };
    if (this.running) {
      const doneAt = Date.now();
      this.processedRate.add(doneAt);
      this.lag.add(doneAt, doneAt - now);
      this.publish('detections', out);
    }
    preview?.decide({ faces: update.faces, width, height });
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
    crop.jpeg ??= encodeJpeg(crop.image, EVENT_CROP.maxWidth, EVENT_CROP.quality).then(
      (e) => e.data,
      () => undefined,
    );
    return crop.jpeg;
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
    this.previews.dropAll();
    await Promise.all([sourceStopped, this.handled]);
    const flushed = this.tracker.flush(Date.now());
    for (const event of flushed.events) this.queueEvent(event);
    await this.eventChain;
    await this.previews.drained();
    this.crops.clear();
    this.gate?.forgetAll();
    this.previews.clear();
    this.state = 'stopped';
    if (wasRunning) this.publish('state', this.health());
  }
}
