// One camera in the registry: its settings, origin and running pipeline, and how it is shown.
import type { CameraPipeline } from '../pipeline/pipeline.ts';
import { redactUrl } from '../sources/credentials.ts';
import type { CameraHealth, CameraKind, CameraSettings, FrameSource } from '../types.ts';
import { CameraError, type CameraOrigin, type CameraView } from './cameraTypes.ts';
import { kindOfUrl } from './validation.ts';

export interface Entry {
  settings: CameraSettings;
  kind: CameraKind;
  origin: CameraOrigin;
  pipeline: CameraPipeline | undefined;
  /** Session cameras: the source handed in (it cannot be recreated). */
  source: FrameSource | undefined;
  /** The health of the last pipeline once stopped (its counters, last error), shown as 'stopped'. */
  lastHealth: CameraHealth | undefined;
  previewOn: boolean;
  /** Cluster mode: the epoch of this node's lease on the camera, while it holds one (its events carry it). */
  epoch: number | undefined;
}

export function newEntry(settings: CameraSettings, origin: CameraOrigin, kind = kindOfUrl(settings.url)): Entry {
  return {
    settings,
    kind,
    origin,
    pipeline: undefined,
    source: undefined,
    lastHealth: undefined,
    previewOn: true,
    epoch: undefined,
  };
}

export function healthOf(entry: Entry): CameraHealth {
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

export function viewOf(entry: Entry, health: CameraHealth): CameraView {
  const { settings, origin } = entry;
  return {
    id: settings.id,
    name: settings.name,
    url: redactUrl(settings.url),
    enabled: settings.enabled,
    maxDetectFps: settings.maxDetectFps,
    inputFps: settings.inputFps,
    motion: settings.motion,
    motionThreshold: settings.motionThreshold,
    motionMinArea: settings.motionMinArea,
    masks: settings.masks,
    detectRegion: settings.detectRegion,
    detectWidth: settings.detectWidth,
    kind: entry.kind,
    persistent: origin === 'api',
    origin,
    readOnly: origin !== 'api',
    health,
  };
}

/** API cameras only: config and session cameras cannot be changed or removed over the API. */
export function assertWritable(entry: Entry, verb: 'changed' | 'removed'): void {
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

/** Whether two settings say the same, whatever order their keys came in (a database row, an API call). */
export function sameSettings(a: CameraSettings, b: CameraSettings): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v)
              .filter(([, x]) => x !== undefined)
              .sort(([x], [y]) => (x < y ? -1 : 1))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
