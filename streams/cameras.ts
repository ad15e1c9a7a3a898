// The cameras the server watches: persisted ones (added over the API, kept in SQLite table cameras_settings),
// ones declared in the config file (started, never persisted, read-only over the API), and ephemeral ones
// (a browser webcam over WebRTC: neither persisted nor restarted). One CameraPipeline per enabled camera, all
// sharing one frame scheduler sized to the inference pool; their output is re-emitted here for the hub.
//
// A camera that cannot be reached, a bad URL or an unsupported codec never throws out of here: it shows up as
// the camera's state ('reconnecting') with lastError in clear words, and its source keeps retrying.
import { createHash, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import { z } from 'zod';
import { Mutex } from '../facebank/mutex.ts';
import type { Matcher } from '../facebank/recognize.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import { EventsStore } from './events.ts';
import { redactUrl, type StreamLogger } from './ffmpeg.ts';
import { FileSource } from './fileSource.ts';
import { CameraPipeline, type PreviewMessage, SharedScheduler } from './pipeline.ts';
import { RtspSource } from './rtspSource.ts';
import type { TrackerOptions } from './tracker.ts';
import type {
  CameraHealth,
  CameraKind,
  CameraSettings,
  CameraState,
  Detections,
  Frame,
  FrameSource,
  PersonEvent,
} from './types.ts';

export type { PreviewMessage } from './pipeline.ts';

export interface CameraInput {
  name: string;
  url: string;
  enabled?: boolean;
  maxDetectFps?: number;
  inputFps?: number;
}

/** Where a camera comes from: the API (persisted), the config file, or a live session (ephemeral). */
export type CameraOrigin = 'api' | 'config' | 'session';

export interface CameraView extends Omit<CameraSettings, 'url'> {
  /** Credentials redacted (rtsp://***@host/…). */
  url: string;
  kind: CameraKind;
  /** Stored in the database (added over the API). */
  persistent: boolean;
  origin: CameraOrigin;
  /** Config and session cameras cannot be changed or removed over the API. */
  readOnly: boolean;
  health: CameraHealth;
}

export interface CameraDefaults {
  maxDetectFps: number;
  /**
   * For browser webcams (ephemeral cameras): a person waits for their own name, and the tracker names a face
   * after 3 detections, so the rate sets most of the webcam-to-name latency (about 380 ms p95 at 10/s, 240 ms
   * at 15/s on 2 cores; `npm run bench:webrtc`).
   */
  webcamMaxDetectFps: number;
  /** 0: the source's own rate. */
  inputFps: number;
  /** Decode width (height keeps the aspect ratio); 0: the source's own size. */
  inputWidth: number;
  previewFps: number;
  previewWidth: number;
  minFaceSize: number;
}

export const DEFAULT_CAMERA_SETTINGS: Readonly<CameraDefaults> = {
  maxDetectFps: 10,
  webcamMaxDetectFps: 15,
  inputFps: 0,
  inputWidth: 0,
  previewFps: 10,
  previewWidth: 640,
  minFaceSize: 40,
};

export interface RegistryOptions {
  db: Database;
  pool: Pick<FacePool, 'analyzeFrame' | 'stats'>;
  matcher: Matcher;
  logger?: Logger;
  /** Scheduler capacity: frames in flight at once over all cameras. */
  poolSize: number;
  defaults?: Partial<CameraDefaults>;
  eventsRetentionDays?: number;
  /** Declared in the config file: started, not persisted, not removable via the API. */
  configCameras?: CameraInput[];
  /** Default: RtspSource for rtsp:// (and other URL schemes, which it reports as unsupported), FileSource for paths. */
  createSource?: (settings: CameraSettings) => FrameSource;
  /** Tracker tuning for every camera (tests; the defaults suit the product). */
  tracker?: Partial<TrackerOptions>;
}

export type CameraErrorCode = 'camera_not_found' | 'invalid_camera' | 'camera_read_only';

export class CameraError extends Error {
  override name = 'CameraError';
  constructor(
    readonly code: CameraErrorCode,
    message: string,
  ) {
    super(message);
  }
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
// Validation

const MAX_DETECT_FPS = 60;
const MAX_INPUT_FPS = 120;

const InputSchema = z.object({
  name: z.string().trim().min(1, 'the name is empty').max(100, 'the name is longer than 100 characters'),
  url: z.string().trim().min(1, 'the URL is empty').max(4096),
  enabled: z.boolean().optional(),
  maxDetectFps: z.number().gt(0, 'must be above 0').max(MAX_DETECT_FPS).optional(),
  inputFps: z.number().min(0).max(MAX_INPUT_FPS).optional(),
});

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const RTSP_SCHEME = /^rtsps?:\/\//i;

/** 'rtsp' for any URL (other schemes are reported by RtspSource as unsupported), 'file' for paths. */
export function kindOfUrl(url: string): CameraKind {
  return URL_SCHEME.test(url.trim()) ? 'rtsp' : 'file';
}

/** An rtsp(s):// URL with a host, or an existing local file (made absolute); otherwise invalid_camera. */
function checkUrl(raw: string): string {
  const url = raw.trim();
  if (RTSP_SCHEME.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CameraError('invalid_camera', `url: not a valid URL: ${redactUrl(url)}`);
    }
    if (!parsed.hostname) throw new CameraError('invalid_camera', `url: the URL has no host: ${redactUrl(url)}`);
    return url;
  }
  if (URL_SCHEME.test(url)) {
    throw new CameraError(
      'invalid_camera',
      `url: unsupported URL scheme in ${redactUrl(url)}: use rtsp:// or rtsps://, or a local video file path`,
    );
  }
  const file = path.resolve(url);
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new CameraError(
      'invalid_camera',
      `url: no such file: ${file} (use rtsp:// or rtsps://, or a local video file)`,
    );
  }
  if (!isFile) throw new CameraError('invalid_camera', `url: not a file: ${file}`);
  return file;
}

function parseInput(input: unknown): z.infer<typeof InputSchema> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    throw new CameraError('invalid_camera', message);
  }
  return parsed.data;
}

const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function randomSlug(length = 8): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return out;
}

function slugOf(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
  return slug || createHash('sha256').update(name).digest('hex').slice(0, 8);
}

// ---------------------------------------------------------------------------------------------------------------
// A source that could not be created: reports why as its state, so the camera shows it instead of crashing.

class FailedSource extends EventEmitter<{ frame: [Frame]; state: [CameraState, (string | undefined)?] }> {
  constructor(
    readonly kind: CameraKind,
    private readonly reason: string,
  ) {
    super();
  }

  start(): void {
    this.emit('state', 'reconnecting', this.reason);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The registry

export const CAMERAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS cameras_settings (
  id             TEXT    PRIMARY KEY,
  name           TEXT    NOT NULL,
  url            TEXT    NOT NULL,
  enabled        INTEGER NOT NULL,
  max_detect_fps REAL    NOT NULL,
  input_fps      REAL    NOT NULL,
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;
`;

interface CameraRow {
  id: string;
  name: string;
  url: string;
  enabled: number;
  max_detect_fps: number;
  input_fps: number;
}

interface Entry {
  settings: CameraSettings;
  kind: CameraKind;
  origin: CameraOrigin;
  pipeline: CameraPipeline | undefined;
  /** Session cameras: the source handed in (it cannot be recreated). */
  source: FrameSource | undefined;
  /** The health of the last pipeline once stopped (its counters, last error), shown as 'stopped'. */
  lastHealth: CameraHealth | undefined;
  previewOn: boolean;
}

export class CameraRegistry extends EventEmitter<RegistryEvents> {
  readonly events: EventsStore;
  private readonly entries = new Map<string, Entry>();
  private readonly scheduler: SharedScheduler;
  private readonly defaults: CameraDefaults;
  private readonly mutex = new Mutex();
  private readonly logger: Logger | undefined;
  private readonly createSource: (settings: CameraSettings) => FrameSource;
  private closing: Promise<void> | undefined;

  private constructor(private readonly o: RegistryOptions) {
    super();
    this.logger = o.logger;
    this.defaults = { ...DEFAULT_CAMERA_SETTINGS, ...stripUndefined(o.defaults ?? {}) };
    o.db.exec(CAMERAS_SCHEMA);
    this.events = new EventsStore(o.db, { retentionDays: o.eventsRetentionDays ?? 30, logger: this.streamLogger() });
    this.scheduler = new SharedScheduler(o.poolSize, undefined, this.streamLogger());
    this.createSource = o.createSource ?? ((s) => this.defaultSource(s));
  }

  /** Loads persisted cameras and config cameras, and starts the enabled ones. */
  static async open(o: RegistryOptions): Promise<CameraRegistry> {
    const registry = new CameraRegistry(o);
    registry.loadConfigCameras(o.configCameras ?? []);
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
    return [...this.entries.values()].map((e) => this.events.drops.withDropped(this.healthOf(e)));
  }

  add(input: CameraInput): Promise<CameraView> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const fields = parseInput(input);
      const url = checkUrl(fields.url);
      let id = randomSlug();
      while (this.entries.has(id)) id = randomSlug();
      const settings: CameraSettings = {
        id,
        name: fields.name,
        url,
        enabled: fields.enabled ?? true,
        maxDetectFps: fields.maxDetectFps ?? this.defaults.maxDetectFps,
        inputFps: fields.inputFps ?? this.defaults.inputFps,
      };
      this.o.db
        .prepare(
          'INSERT INTO cameras_settings (id, name, url, enabled, max_detect_fps, input_fps, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, settings.name, url, settings.enabled ? 1 : 0, settings.maxDetectFps, settings.inputFps, Date.now());
      const entry = this.newEntry(settings, 'api');
      this.entries.set(id, entry);
      if (settings.enabled) this.startPipeline(entry);
      this.logger?.info({ camera: id, name: settings.name, url: redactUrl(url) }, 'camera added');
      this.emit('cameras');
      return this.view(entry);
    });
  }

  update(id: string, patch: Partial<CameraInput>): Promise<CameraView> {
    return this.mutex.run(async () => {
      this.assertOpen();
      const entry = this.entry(id);
      this.assertWritable(entry, 'changed');
      const old = entry.settings;
      // A client may send back the redacted URL it was shown: that means "unchanged".
      const patchUrl = patch.url !== undefined && patch.url.trim() === redactUrl(old.url) ? old.url : patch.url;
      const fields = parseInput({
        name: patch.name ?? old.name,
        url: patchUrl ?? old.url,
        enabled: patch.enabled ?? old.enabled,
        maxDetectFps: patch.maxDetectFps ?? old.maxDetectFps,
        inputFps: patch.inputFps ?? old.inputFps,
      });
      const url = fields.url === old.url ? old.url : checkUrl(fields.url);
      const next: CameraSettings = {
        id,
        name: fields.name,
        url,
        enabled: fields.enabled ?? old.enabled,
        maxDetectFps: fields.maxDetectFps ?? old.maxDetectFps,
        inputFps: fields.inputFps ?? old.inputFps,
      };
      this.o.db
        .prepare(
          'UPDATE cameras_settings SET name = ?, url = ?, enabled = ?, max_detect_fps = ?, input_fps = ? WHERE id = ?',
        )
        .run(next.name, next.url, next.enabled ? 1 : 0, next.maxDetectFps, next.inputFps, id);
      entry.settings = next;
      entry.kind = kindOfUrl(next.url);
      const restart = next.url !== old.url || this.decodeFps(next) !== this.decodeFps(old);
      if (!next.enabled) {
        await this.stopPipeline(entry);
      } else if (!entry.pipeline || restart) {
        await this.stopPipeline(entry);
        this.startPipeline(entry);
      } else {
        entry.pipeline.name = next.name;
        if (next.maxDetectFps !== old.maxDetectFps) entry.pipeline.setMaxDetectFps(next.maxDetectFps);
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
      this.o.db.prepare('DELETE FROM cameras_settings WHERE id = ?').run(id);
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
    const settings: CameraSettings = {
      id,
      name: trimmed,
      url: '',
      enabled: true,
      maxDetectFps: this.defaults.webcamMaxDetectFps,
      inputFps: 0,
    };
    const entry = this.newEntry(settings, 'session', kind);
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

  private newEntry(settings: CameraSettings, origin: CameraOrigin, kind = kindOfUrl(settings.url)): Entry {
    return { settings, kind, origin, pipeline: undefined, source: undefined, lastHealth: undefined, previewOn: true };
  }

  private loadConfigCameras(inputs: readonly CameraInput[]): void {
    for (const input of inputs) {
      const name = String(input?.name ?? '').trim() || 'camera';
      const base = `cfg-${slugOf(name)}`;
      let id = base;
      for (let n = 2; this.entries.has(id); n++) id = `${base}-${n}`;
      // Never throws: a bad value falls back to the default, a bad URL shows up as the camera's lastError.
      const fps = (value: unknown, min: number, max: number, fallback: number, field: string) => {
        if (value === undefined) return fallback;
        if (typeof value === 'number' && value >= min && value <= max && (field !== 'maxDetectFps' || value > 0)) {
          return value;
        }
        this.logger?.warn({ camera: id, [field]: value }, `config camera ${name}: invalid ${field}; using ${fallback}`);
        return fallback;
      };
      const url = String(input?.url ?? '').trim();
      const settings: CameraSettings = {
        id,
        name,
        url: url && !URL_SCHEME.test(url) ? path.resolve(url) : url,
        enabled: input.enabled ?? true,
        maxDetectFps: fps(input.maxDetectFps, 0, MAX_DETECT_FPS, this.defaults.maxDetectFps, 'maxDetectFps'),
        inputFps: fps(input.inputFps, 0, MAX_INPUT_FPS, this.defaults.inputFps, 'inputFps'),
      };
      this.entries.set(id, this.newEntry(settings, 'config'));
    }
  }

  private loadPersisted(): void {
    const rows = this.o.db
      .prepare<[], CameraRow>(
        'SELECT id, name, url, enabled, max_detect_fps, input_fps FROM cameras_settings ORDER BY created_at, id',
      )
      .all();
    for (const r of rows) {
      const settings: CameraSettings = {
        id: r.id,
        name: r.name,
        url: r.url,
        enabled: r.enabled !== 0,
        maxDetectFps: r.max_detect_fps,
        inputFps: r.input_fps,
      };
      this.entries.set(r.id, this.newEntry(settings, 'api'));
    }
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
      ...(this.defaults.inputWidth > 0 ? { width: this.defaults.inputWidth } : {}),
      fps: this.decodeFps(s),
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

  private healthOf(entry: Entry): CameraHealth {
    if (entry.pipeline) return entry.pipeline.health();
    const h: CameraHealth = {
      id: entry.settings.id,
      name: entry.settings.name,
      kind: entry.kind,
      state: 'stopped',
      inputFps: 0,
      processedFps: 0,
      lagMs: { p50: 0, p95: 0 },
      reconnects: entry.lastHealth?.reconnects ?? 0,
    };
    if (entry.lastHealth?.lastError !== undefined) h.lastError = entry.lastHealth.lastError;
    if (entry.lastHealth?.lastFrameAt !== undefined) h.lastFrameAt = entry.lastHealth.lastFrameAt;
    return h;
  }

  private view(entry: Entry): CameraView {
    const { settings, origin } = entry;
    return {
      id: settings.id,
      name: settings.name,
      url: redactUrl(settings.url),
      enabled: settings.enabled,
      maxDetectFps: settings.maxDetectFps,
      inputFps: settings.inputFps,
      kind: entry.kind,
      persistent: origin === 'api',
      origin,
      readOnly: origin !== 'api',
      health: this.events.drops.withDropped(this.healthOf(entry)),
    };
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

  private streamLogger(camera?: string): StreamLogger | undefined {
    if (!this.logger) return undefined;
    return camera ? this.logger.child({ camera }) : this.logger;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
