// The cameras the server watches: persisted ones (added over the API, kept in SQLite table cameras_settings),
// ones declared in the config file (started, never persisted, read-only over the API), and ephemeral ones
// (a browser webcam over WebRTC: neither persisted nor restarted). One CameraPipeline per enabled camera, all
// sharing one frame scheduler sized to the inference pool; their output is re-emitted here for the hub.
//
// In cluster mode (a `shared` catalog), the API's cameras live in the shared database and every node follows it
// (follow()); a camera's pipeline runs only on the node holding its lease (hold()), and its events carry the
// lease's epoch into the outbox, from which the shared database takes them only while that lease was current.
//
// A camera that cannot be reached, a bad URL or an unsupported codec never throws out of here: it shows up as
// the camera's state ('reconnecting') with lastError in clear words, and its source keeps retrying.
import { EventEmitter } from 'node:events';
import type { Database } from 'better-sqlite3';
import { Mutex } from '../../facebank/mutex.ts';
import type { FaceNamer } from '../../facebank/recognize.ts';
import type { Logger } from '../../models/logger.ts';
import type { FacePool } from '../../models/pool/facePool.ts';
import { type EventSink, EventsStore, MAX_EVENT_CROPS } from '../events.ts';
import { CameraPipeline } from '../pipeline/pipeline.ts';
import type { PreviewMessage } from '../pipeline/previews.ts';
import { SharedScheduler } from '../pipeline/sharedScheduler.ts';
import { redactUrl } from '../sources/credentials.ts';
import type { TrackerOptions } from '../tracking/trackerOptions.ts';
import type { CameraHealth, CameraKind, CameraSettings, Detections, FrameSource, PersonEvent } from '../types.ts';
import { decodeFps, defaultSource, sourceOrFailure } from './cameraSource.ts';
import { type CameraCatalog, CameraStore } from './cameraStore.ts';
import { type CameraDefaults, CameraError, type CameraView } from './cameraTypes.ts';
import { assertWritable, type Entry, healthOf, newEntry, sameSettings, viewOf } from './entry.ts';
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
  /**
   * Cluster mode: the shared catalog the API's cameras are kept in (instead of SQLite). Their pipelines then run
   * only while hold() grants this node their lease, and every event is queued in the outbox.
   */
  shared?: CameraCatalog;
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
  private readonly store: CameraCatalog;
  private readonly scheduler: SharedScheduler;
  private readonly defaults: CameraDefaults;
  private readonly mutex = new Mutex();
  private readonly logger: Logger | undefined;
  private readonly createSource: (settings: CameraSettings) => FrameSource;
  private closing: Promise<void> | undefined;
  private writeCount = 0;

  private constructor(private readonly o: RegistryOptions) {
    super();
    this.logger = o.logger;
    this.defaults = o.defaults;
    this.store = o.shared ?? new CameraStore(o.db, o.defaults.motion);
    this.events = new EventsStore(o.db, {
      retentionDays: o.eventsRetentionDays,
      maxCrops: MAX_EVENT_CROPS,
      logger: this.streamLogger(),
      outbox: o.shared !== undefined,
    });
    this.scheduler = new SharedScheduler(o.poolSize, undefined, this.streamLogger());
    this.createSource = o.createSource ?? ((s) => defaultSource(s, this.defaults, this.streamLogger(s.id)));
  }

  /** Loads persisted cameras and config cameras, and starts the enabled ones. */
  static async open(o: RegistryOptions): Promise<CameraRegistry> {
    const registry = new CameraRegistry(o);
    registry.loadConfigCameras(o.configCameras);
    for (const settings of await registry.store.all()) registry.entries.set(settings.id, newEntry(settings, 'api'));
    for (const entry of registry.entries.values()) if (registry.runs(entry)) registry.startPipeline(entry);
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
      this.writeCount++;
      await this.store.insert(settings, Date.now());
      const entry = newEntry(settings, 'api');
      this.entries.set(id, entry);
      if (this.runs(entry)) this.startPipeline(entry);
      this.logger?.info({ camera: id, name: settings.name, url: redactUrl(url) }, 'camera added');
      this.emit('cameras');
      return this.view(entry);
    });
  }

  update(id: string, patch: CameraPatch): Promise<CameraView> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const entry = this.entry(id);
      assertWritable(entry, 'changed');
      const old = entry.settings;
      // A client may send back the redacted URL it was shown: that means "unchanged".
      const patchUrl = patch.url !== undefined && patch.url.trim() === redactUrl(old.url) ? old.url : patch.url;
      const { id: _id, ...kept } = old;
      const given = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
      const fields = parseInput({ ...kept, ...given, url: patchUrl ?? old.url });
      const url = fields.url === old.url ? old.url : checkUrl(fields.url);
      const next = resolveSettings(fields, id, url, old);
      this.writeCount++;
      await this.store.update(next);
      const restarted = await this.apply(entry, next);
      this.logger?.info({ camera: id, name: next.name, restarted }, 'camera updated');
      this.emit('cameras');
      return this.view(entry);
    });
  }

  /**
   * Cluster mode: the shared catalog's cameras as other nodes left them, applied without writing them back.
   * `asOf` (writes()) when the list was read: a list read before one of this node's own changes is stale.
   */
  follow(cameras: readonly CameraSettings[], asOf: number): Promise<void> {
    return this.mutex.run(async () => {
      if (this.closing || asOf !== this.writeCount) return;
      const seen = new Set<string>();
      let changed = false;
      for (const settings of cameras) {
        seen.add(settings.id);
        const entry = this.entries.get(settings.id);
        if (!entry) {
          const added = newEntry(settings, 'api');
          this.entries.set(settings.id, added);
          if (this.runs(added)) this.startPipeline(added);
          changed = true;
        } else if (entry.origin === 'api' && !sameSettings(entry.settings, settings)) {
          await this.apply(entry, settings);
          changed = true;
        }
      }
      const gone = [...this.entries.values()].filter((e) => e.origin === 'api' && !seen.has(e.settings.id));
      for (const entry of gone) this.entries.delete(entry.settings.id);
      await Promise.all(gone.map((e) => this.stopPipeline(e)));
      if (changed || gone.length > 0) this.emit('cameras');
    });
  }

  /** How many changes this registry has written to its catalog (see follow()). */
  writes(): number {
    return this.writeCount;
  }

  /** Cluster mode: the leases this node holds (camera → epoch). Resolves once lost cameras have stopped. */
  hold(leases: ReadonlyMap<string, number>): Promise<void> {
    return this.mutex.run(async () => {
      if (this.closing) return;
      const moved = [...this.entries.values()].filter(
        (e) => e.origin === 'api' && leases.get(e.settings.id) !== e.epoch,
      );
      await Promise.all(
        moved.map(async (entry) => {
          await this.stopPipeline(entry);
          entry.epoch = leases.get(entry.settings.id);
          if (this.runs(entry)) this.startPipeline(entry);
        }),
      );
    });
  }

  remove(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (entry?.origin === 'session') return this.removeEphemeral(id);
    return this.mutex.run(async () => {
      this.assertOpen();
      const found = this.entry(id);
      assertWritable(found, 'removed');
      this.writeCount++;
      await this.store.delete(id);
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

  /** Whether the camera's pipeline should run here: enabled and, for a shared camera, leased to this node. */
  private runs(entry: Entry): boolean {
    if (!entry.settings.enabled) return false;
    return this.o.shared === undefined || entry.origin !== 'api' || entry.epoch !== undefined;
  }

  /** New settings for a camera: its pipeline restarts, stops, or takes them live. Returns whether it restarted. */
  private async apply(entry: Entry, next: CameraSettings): Promise<boolean> {
    const old = entry.settings;
    entry.settings = next;
    entry.kind = kindOfUrl(next.url);
    const restart =
      next.url !== old.url ||
      decodeFps(next, this.defaults) !== decodeFps(old, this.defaults) ||
      next.detectWidth !== old.detectWidth;
    if (!this.runs(entry)) {
      await this.stopPipeline(entry);
    } else if (!entry.pipeline || restart) {
      await this.stopPipeline(entry);
      this.startPipeline(entry);
    } else {
      entry.pipeline.name = next.name;
      if (next.maxDetectFps !== old.maxDetectFps) entry.pipeline.setMaxDetectFps(next.maxDetectFps);
      entry.pipeline.setMotion(next);
    }
    return next.enabled && restart;
  }

  private startPipeline(entry: Entry): void {
    if (entry.pipeline) return;
    const { settings } = entry;
    // The epoch is the one this pipeline runs under: a later lease's pipeline is a new pipeline.
    const epoch = entry.epoch ?? null;
    const events: EventSink = this.o.shared ? { insert: (e) => this.events.insert(e, epoch) } : this.events;
    const pipeline = new CameraPipeline({
      cameraId: settings.id,
      name: settings.name,
      source: entry.source ?? sourceOrFailure(entry, this.createSource, this.logger),
      scheduler: this.scheduler,
      pool: this.o.pool,
      matcher: this.o.matcher,
      events,
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

  private assertOpen(): void {
    if (this.closing) throw new Error('the camera registry is closed');
  }

  private streamLogger(camera?: string): Logger | undefined {
    if (!this.logger) return undefined;
    return camera ? this.logger.child({ camera }) : this.logger;
  }
}
