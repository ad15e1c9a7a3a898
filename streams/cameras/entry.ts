// One camera in the registry: its settings, origin and running pipeline, and how it is shown.
import type { CameraPipeline } from '../pipeline/pipeline.ts';
import { redactUrl } from '../sources/credentials.ts';
import type { CameraHealth, CameraKind, CameraSettings, FrameSource } from '../types.ts';
import type { CameraOrigin, CameraView } from './cameraTypes.ts';
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
}

export function newEntry(settings: CameraSettings, origin: CameraOrigin, kind = kindOfUrl(settings.url)): Entry {
  return { settings, kind, origin, pipeline: undefined, source: undefined, lastHealth: undefined, previewOn: true };
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
