// The cameras the server watches: persisted ones (added over the API, kept in SQLite table cameras_settings),
// ones declared in the config file (started, never persisted, read-only over the API), and ephemeral ones
// (a browser webcam over WebRTC: neither persisted nor restarted). One CameraPipeline per enabled camera, all
// sharing one frame scheduler sized to the inference pool; their output is re-emitted here for the hub.
//
// A camera that cannot be reached, a bad URL or an unsupported codec never throws out of here: it shows up as
// the camera's state ('reconnecting') with lastError in clear words, and its source keeps retrying.
import { EventEmitter } from 'node:events';
import type { Database } from 'better-sqlite3';
import { Mutex } from '../../facebank/mutex.ts';
import type { FaceNamer } from '../../facebank/recognize.ts';
import type { Logger } from '../../models/logger.ts';
import type { FacePool } from '../../models/pool/facePool.ts';
import { EventsStore, MAX_EVENT_CROPS } from '../events.ts';
import { CameraPipeline } from '../pipeline/pipeline.ts';
import type { PreviewMessage } from '../pipeline/previews.ts';
import { SharedScheduler } from '../pipeline/sharedScheduler.ts';
import { redactUrl } from '../sources/credentials.ts';
import { FileSource } from '../sources/fileSource.ts';
import { RtspSource } from '../sources/rtspSource.ts';
import type { TrackerOptions } from '../tracking/trackerOptions.ts';
import type { CameraHealth, CameraKind, CameraSettings, Detections, FrameSource, PersonEvent } from '../types.ts';
import { CameraStore } from './cameraStore.ts';
import { type CameraDefaults, CameraError, type CameraView } from './cameraTypes.ts';
import { type Entry, healthOf, newEntry, viewOf } from './entry.ts';
import { FailedSource } from './failedSource.ts';
import { randomSlug, slugOf } from './ids.ts';
import type { CameraInput, CameraPatch } from './settings.ts';
import { checkUrl, configCameraSettings, kindOfUrl, parseInput, resolveSettings } from './validation.ts';

export interface RegistryOptions {
  db: Database;
  pool: Pick<FacePool, 'analyzeFrame' | 'stats'>;
  matcher: FaceNamer;
  logger?: Logger;
  /** Scheduler capacity: frames in flight at once over all cameras. */
  poolSize: number;
  defaults: CameraDefaults;
  eventsRetentionDays: number;
  /** Declared in the config file: started, not persisted, not removable via the API. */
  configCameras: readonly CameraInput[];
  /** Default: RtspSource for rtsp:// (and other URL schemes, which it reports as unsupported), FileSource for paths. */
  createSource?: (settings: CameraSettings) => FrameSource;
  /** Tracker tuning for every camera (tests; the defaults suit the product). */
  tracker?: Partial<TrackerOptions>;
}

type RegistryEvents = {
  detections: [Detections];
  preview: [PreviewMessage];
  event: [PersonEvent];
  /** The list of cameras or their settings changed. */
  cameras: [];
  /** A camera's state changed (connecting, live, stalled, reconnecting, stopped), with its health. */
  state: [CameraHealth];
};

// ---------------------------------------------------------------------------------------------------------------
// The registry

export class CameraRegistry extends EventEmitter<RegistryEvents> {
  readonly events: EventsStore;
  private readonly entries = new Map<string, Entry>();
  private readonly store: CameraStore;
  private readonly scheduler: SharedScheduler;
  private readonly defaults: CameraDefaults;
  private readonly mutex = new Mutex();
  private readonly logger: Logger | undefined;
  private readonly createSource: (settings: CameraSettings) => FrameSource;
  private closing: Promise<void> | undefined;

  private constructor(private readonly o: RegistryOptions) {
    super();
    this.logger = o.logger;
    this.defaults = o.defaults;
    this.store = new CameraStore(o.db, o.defaults.motion);
    this.events = new EventsStore(o.db, {
      retentionDays: o.eventsRetentionDays,
      maxCrops: MAX_EVENT_CROPS,
      logger: this.streamLogger(),
    });
    this.scheduler = new SharedScheduler(o.poolSize, undefined, this.streamLogger());
    this.createSource = o.createSource ?? ((s) => this.defaultSource(s));
  }

  /** Loads persisted cameras and config cameras, and starts the enabled ones. */
  static async open(o: RegistryOptions): Promise<CameraRegistry> {
    const registry = new CameraRegistry(o);
    registry.loadConfigCameras(o.configCameras);
    registry.loadPersisted();
    for (const entry of registry.entries.values()) if (entry.settings.enabled) registry.startPipeline(entry);
    registry.logger?.info(
      { cameras: registry.entries.size, enabled: [...registry.entries.values()].filter((e) => e.pipeline).length },
      `cameras: ${registry.entries.size} configured`,
    );
    return registry;
  }

  list(): CameraView[] {
    return [...this.entries.values()].map((e) => this.view(e));
  }

  get(id: string): CameraView {
    return this.view(this.entry(id));
  }

  health(): CameraHealth[] {
    return [...this.entries.values()].map((e) => this.healthOf(e));
  }

  /** Per running camera with motion gating: frames skipped, analysed in a crop, analysed whole. */
  motionFrames(): Record<string, { skipped: number; cropped: number; whole: number }> {
    const out: Record<string, { skipped: number; cropped: number; whole: number }> = {};
    for (const [id, e] of this.entries) {
      const m = e.pipeline?.health().motion;
      if (m) out[id] = { skipped: m.skippedFrames, cropped: m.croppedFrames, whole: m.wholeFrames };
    }
    return out;
  }

  add(input: CameraInput): Promise<CameraView> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const fields = parseInput(input);
      const url = checkUrl(fields.url);
      let id = randomSlug();
      while (this.entries.has(id)) id = randomSlug();
      const settings = resolveSettings(fields, id, url, this.defaults);
      this.store.insert(settings, Date.now());
      const entry = newEntry(settings, 'api');
      this.entries.set(id, entry);
      if (settings.enabled) this.startPipeline(entry);
      this.logger?.info({ camera: id, name: settings.name, url: redactUrl(url) }, 'camera added');
      this.emit('cameras');
      return this.view(entry);
    });
  }

  update(id: string, patch: CameraPatch): Promise<CameraView> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const entry = this.entry(id);
      this.assertWritable(entry, 'changed');
      const old = entry.settings;
      // A client may send back the redacted URL it was shown: that means "unchanged".
      const patchUrl = patch.url !== undefined && patch.url.trim() === redactUrl(old.url) ? old.url : patch.url;
      const { id: _id, ...kept } = old;
      const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const fields = parseInput({ ...kept, ...given, url: patchUrl ?? old.url });
      const url = fields.url === old.url ? old.url : checkUrl(fields.url);
      const next = resolveSettings(fields, id, url, old);
      this.store.update(next);
      entry.settings = next;
      entry.kind = kindOfUrl(next.url);
      const restart =
        next.url !== old.url || this.decodeFps(next) !== this.decodeFps(old) || next.detectWidth !== old.detectWidth;
      if (!next.enabled) {
        await this.stopPipeline(entry);
      } else if (!entry.pipeline || restart) {
        await this.stopPipeline(entry);
        this.startPipeline(entry);
      } else {
        entry.pipeline.name = next.name;
        if (next.maxDetectFps !== old.maxDetectFps) entry.pipeline.setMaxDetectFps(next.maxDetectFps);
        entry.pipeline.setMotion(next);
      }
      this.logger?.info({ camera: id, name: next.name, restarted: next.enabled && restart }, 'camera updated');
      this.emit('cameras');
      return this.view(entry);
    });
  }

  remove(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry?.origin === 'session') return this.removeEphemeral(id);
    return this.mutex.run(async () => {
      this.assertOpen();
      const found = this.entry(id);
      this.assertWritable(found, 'removed');
      this.store.delete(id);
      this.entries.delete(id);
      await this.stopPipeline(found);
      this.logger?.info({ camera: id, name: found.settings.name }, 'camera removed');
      this.emit('cameras');
    });
  }

  /** A camera fed by `source` (e.g. a WebRTC webcam): started now, not persisted, gone with removeEphemeral. */
  addEphemeral(name: string, kind: CameraKind, source: FrameSource): CameraView {
    this.assertOpen();
    const trimmed = name.trim().slice(0, 100) || kind;
    let id = `${kind}-${randomSlug(6)}`;
    while (this.entries.has(id)) id = `${kind}-${randomSlug(6)}`;
    const settings = resolveSettings(parseInput({ name: trimmed, url: kind }), id, '', {
      maxDetectFps: this.defaults.webcamMaxDetectFps,
      motion: this.defaults.motion,
    });
    const entry = newEntry(settings, 'session', kind);
    entry.source = source;
    this.entries.set(id, entry);
    this.startPipeline(entry);
    this.logger?.info({ camera: id, name: trimmed, kind }, 'session camera added');
    this.emit('cameras');
    return this.view(entry);
  }

  async removeEphemeral(id: string): Promise<void> {
    const entry = this.entry(id);
    if (entry.origin !== 'session') {
      throw new CameraError('camera_not_found', `camera ${id} is not a session camera`);
    }
    this.entries.delete(id);
    await this.stopPipeline(entry);
    this.logger?.info({ camera: id }, 'session camera removed');
    this.emit('cameras');
  }

  /** Previews cost a resize and a JPEG per frame: the hub may switch them off while nobody watches a camera. */
  setPreviewEnabled(id: string, on: boolean): void {
    const entry = this.entry(id);
    entry.previewOn = on;
    entry.pipeline?.setPreviewEnabled(on);
  }

  /** Stops every pipeline and source (their ffmpeg processes have exited when this resolves). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.mutex.run(async () => {
        await Promise.all([...this.entries.values()].map((e) => this.stopPipeline(e)));
      });
      this.scheduler.stop();
      this.events.close();
    })();
    return this.closing;
  }

  // --- internals ------------------------------------------------------------------------------------------

  private loadConfigCameras(inputs: readonly CameraInput[]): void {
    for (const raw of inputs) {
      const input = parseInput(raw);
      const base = `cfg-${slugOf(input.name)}`;
      let id = base;
      for (let n = 2; this.entries.has(id); n++) id = `${base}-${n}`;
      const settings = configCameraSettings(input, id, this.defaults);
      this.entries.set(id, newEntry(settings, 'config'));
    }
  }

  private loadPersisted(): void {
    for (const settings of this.store.all()) this.entries.set(settings.id, newEntry(settings, 'api'));
  }

  /**
   * Frames per second to decode when the camera sets no rate: no more than detection and previews can use.
   * Converting and piping every frame of a 25 fps stream as RGB cost far more than the frames were worth.
   */
  private decodeFps(s: CameraSettings): number {
    if (s.inputFps > 0) return s.inputFps;
    return s.maxDetectFps > 0 ? Math.max(s.maxDetectFps, this.defaults.previewFps) : 0;
  }

  private defaultSource(s: CameraSettings): FrameSource {
    const common = {
      ...this.defaults.sourceTimings,
      fps: this.decodeFps(s),
      ...(s.detectWidth > 0 ? { width: s.detectWidth } : {}),
      logger: this.streamLogger(s.id),
    };
    if (!s.url) return new FailedSource('file', 'no URL configured');
    return kindOfUrl(s.url) === 'rtsp'
      ? new RtspSource({ url: s.url, ...common })
      : new FileSource({ path: s.url, ...common });
  }

  private makeSource(entry: Entry): FrameSource {
    if (entry.source) return entry.source;
    try {
      return this.createSource(entry.settings);
    } catch (err) {
      const reason = `cannot open the camera: ${redactUrl((err as Error).message)}`;
      this.logger?.error({ camera: entry.settings.id, err: reason }, 'camera source failed');
      return new FailedSource(entry.kind, reason);
    }
  }

  private startPipeline(entry: Entry): void {
    if (entry.pipeline) return;
    const { settings } = entry;
    const pipeline = new CameraPipeline({
      cameraId: settings.id,
      name: settings.name,
      source: this.makeSource(entry),
      scheduler: this.scheduler,
      pool: this.o.pool,
      matcher: this.o.matcher,
      events: this.events,
      maxDetectFps: settings.maxDetectFps,
      minFaceSize: this.defaults.minFaceSize,
      previewFps: this.defaults.previewFps,
      previewWidth: this.defaults.previewWidth,
      motion: settings,
      ...(this.o.tracker ? { tracker: this.o.tracker } : {}),
      logger: this.streamLogger(settings.id),
    });
    pipeline.setPreviewEnabled(entry.previewOn);
    pipeline.on('detections', (d) => this.emit('detections', d));
    pipeline.on('preview', (p) => this.emit('preview', p));
    pipeline.on('event', (e) => this.emit('event', e));
    pipeline.on('state', (h) => {
      if (h.state === 'reconnecting') {
        // The source logs its failures itself; this is the registry's view.
        this.logger?.debug({ camera: settings.id, error: h.lastError }, `camera ${settings.name}: ${h.lastError}`);
      }
      this.emit('state', this.events.drops.withDropped(h));
    });
    entry.pipeline = pipeline;
    entry.lastHealth = undefined;
    pipeline.start();
  }

  private async stopPipeline(entry: Entry): Promise<void> {
    const pipeline = entry.pipeline;
    if (!pipeline) return;
    entry.pipeline = undefined;
    await pipeline.stop();
    entry.lastHealth = pipeline.health();
    pipeline.removeAllListeners();
  }

  /** An entry's health with the events it dropped (a full or unwritable disk), which the events store counts. */
  private healthOf(entry: Entry): CameraHealth {
    return this.events.drops.withDropped(healthOf(entry));
  }

  private view(entry: Entry): CameraView {
    return viewOf(entry, this.healthOf(entry));
  }

  private entry(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new CameraError('camera_not_found', `no camera with id ${JSON.stringify(id)}`);
    return entry;
  }

  private assertWritable(entry: Entry, verb: 'changed' | 'removed'): void {
    if (entry.origin === 'config') {
      throw new CameraError(
        'camera_read_only',
        `camera ${entry.settings.id} (${entry.settings.name}) is declared in the config file: it cannot be ${verb} over the API; edit the config file and restart the server`,
      );
    }
    if (entry.origin === 'session') {
      throw new CameraError(
        'camera_read_only',
        `camera ${entry.settings.id} (${entry.settings.name}) is a live ${entry.kind} session: it cannot be ${verb} over the API; it goes away when the session ends`,
      );
    }
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('the camera registry is closed');
  }

  private streamLogger(camera?: string): Logger | undefined {
    if (!this.logger) return undefined;
    return camera ? this.logger.child({ camera }) : this.logger;
  }
}
