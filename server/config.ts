// Configuration: environment variables over an optional JSON config file over defaults, validated once at
// start-up. Every setting is described once below, in its section; its environment variable is its key in
// UPPER_SNAKE_CASE, and the README's configuration table is rendered from here (`npm run docs:config`).
// Everything below server/ receives plain, resolved values from here, never process.env.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { defaultFacePoolSettings } from '../models/pool/facePool.ts';
import { DEFAULT_MIN_QUALITY } from '../models/quality.ts';
import type { CameraDefaults } from '../streams/cameras/cameraTypes.ts';
import { CameraSettingsInput, MAX_FPS } from '../streams/cameras/settings.ts';
import { DECODER_TIMINGS, WEBCAM_SETTINGS } from '../streams/sources/sourceDefaults.ts';
import type { WebRtcSourceOptions } from '../streams/sources/webrtcSource.ts';
import { clusterSettings } from './cluster/settings.ts';
import {
  choice,
  decimal,
  fileOnlyList,
  flag,
  integer,
  optionalDecimal,
  optionalText,
  type Setting,
  text,
} from './configFields.ts';
import { mqttSettings, webhookSettings } from './integrations/settings.ts';
import { liveSettings } from './live/settings.ts';
import { LOG_FORMATS } from './logFormat.ts';

/**
 * The accepted rate of false names: at most 1% of strangers (people not in the facebank) given some name. The
 * match threshold is derived from it and the facebank's size (facebank/operatingPoint.ts; README "Open-set
 * identification"). MATCH_THRESHOLD, when set, overrides it with a fixed cosine.
 */
export const DEFAULT_MATCH_FPIR = 0.01;

const pool = defaultFacePoolSettings(availableParallelism());

const http = {
  host: text({ default: 'localhost', description: 'interface to listen on (`0.0.0.0` for all)' }),
  port: integer({ default: 5000, min: 0, max: 65535, description: 'HTTP port' }),
  apiKey: optionalText({
    minLength: 8,
    shownDefault: 'none',
    description: 'key for facebank changes (without one, they only answer clients on this machine)',
  }),
  recognitionRequiresKey: flag({ default: false, description: 'also require the key for recognition' }),
  bodyLimitBytes: integer({
    default: 20 * 1024 * 1024,
    min: 1024,
    max: 1024 ** 3,
    description: 'largest request body (20 MB)',
  }),
  maxImagePixels: integer({
    default: 40_000_000,
    min: 1,
    max: 1_000_000_000,
    description: 'largest image, in pixels (decompression bombs are refused)',
  }),
  logLevel: choice({
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    default: 'info',
    description: 'pino log level',
  }),
  logFormat: choice({
    values: LOG_FORMATS,
    default: 'auto',
    description: "`pretty` (one coloured line per record), `json` (pino's JSON lines), or `auto`: pretty on a terminal",
  }),
};

const facebank = {
  facebankDir: text({ default: './facebank/people', description: 'the people folders' }),
  databasePath: text({
    default: './data/facerec.db',
    description: 'SQLite database (embedding cache, cameras, events)',
  }),
  watchFacebank: flag({ default: true, description: 'apply facebank folder changes without a restart' }),
  matchFpir: decimal({
    default: DEFAULT_MATCH_FPIR,
    above: 0,
    max: 0.5,
    description: 'accepted rate of strangers given a name (0.01: 1%); the threshold is derived from it',
  }),
  matchThreshold: optionalDecimal({
    min: -1,
    max: 1,
    shownDefault: 'derived',
    description: 'a fixed cosine threshold instead (overrides `MATCH_FPIR`; see Open-set below)',
  }),
};

const inference = {
  executionProvider: choice({
    values: ['auto', 'cuda', 'cpu'],
    default: pool.provider,
    description: '`auto` (CUDA if available, else CPU), `cuda` (fail without it) or `cpu`',
  }),
  poolSize: integer({
    default: pool.size,
    min: 1,
    max: 64,
    shownDefault: 'CPU cores',
    description: 'inference worker threads',
  }),
  intraOpThreads: integer({
    default: pool.intraOpThreads,
    min: 1,
    max: 64,
    description: "threads each worker's sessions may use",
  }),
  maxQueue: integer({
    default: pool.maxQueue,
    min: 1,
    max: 10_000,
    description: 'requests waiting for a worker before new ones get 503',
  }),
  embedder: text({
    default: pool.embedder,
    description: 'embedding model in `models/build/manifest.json` (`mobilefacenet-int8`: int8)',
  }),
};

const detection = {
  minFaceSize: integer({ default: 20, min: 12, max: 10_000, description: 'smallest face to detect, in pixels' }),
  maxFaces: integer({
    default: 0,
    min: 0,
    max: 1000,
    description: 'at most this many faces per image, largest first (0: no limit)',
  }),
  minFaceQuality: decimal({
    default: DEFAULT_MIN_QUALITY,
    min: 0,
    max: 1,
    description: 'faces whose quality scores below this are `Unknown` and not enrolled (0: off; see Face quality)',
  }),
  flip: flag({
    default: false,
    description:
      "add the mirrored face's embedding (about twice the embedding cost; a change embeds the facebank again once)",
  }),
};

const cameras = {
  cameras: fileOnlyList({
    item: CameraSettingsInput,
    limits:
      '`name`, `url`, optional `enabled`, `maxDetectFps`, `inputFps`, `motion`, `motionThreshold`, `motionMinArea`, `masks`, `detectRegion`, `detectWidth` (as `POST /api/cameras`)',
    description: 'cameras declared in the config file: read-only over the API, never stored (see Live cameras)',
  }),
  maxDetectFps: decimal({
    default: 10,
    above: 0,
    max: MAX_FPS,
    description: 'detections per second per camera, for cameras that set none',
  }),
  webcamMaxDetectFps: decimal({
    default: 15,
    above: 0,
    max: MAX_FPS,
    description: 'detections per second for a browser webcam (its user waits for their own name)',
  }),
  cameraMotion: flag({
    default: true,
    description: 'detect faces only where something moves (or a face is tracked), for cameras that set no `motion`',
  }),
  cameraMinFaceSize: integer({
    default: 40,
    min: 12,
    max: 10_000,
    description: 'smallest face looked for in camera frames, in frame pixels',
  }),
  previewFps: decimal({
    default: 10,
    min: 0,
    max: 60,
    description: 'live preview JPEGs per second per camera sent to Socket.IO subscribers (0: none)',
  }),
  previewWidth: integer({
    default: 640,
    min: 64,
    max: 4096,
    description: 'width of the preview JPEGs (the height keeps the aspect ratio)',
  }),
};

const events = {
  eventsRetentionDays: decimal({
    default: 30,
    min: 0,
    max: 36_500,
    description:
      'person events and their crops are deleted after this many days, in cluster mode from PostgreSQL too (0: kept)',
  }),
};

/** The settings by section, in the README's order. */
export const SECTIONS = {
  http: { title: 'HTTP server and API', settings: http },
  facebank: { title: 'Facebank and matching', settings: facebank },
  pool: { title: 'Inference pool', settings: inference },
  detection: { title: 'Detection in photos', settings: detection },
  cameras: { title: 'Live cameras', settings: cameras },
  events: { title: 'Person events', settings: events },
  live: { title: 'Dashboards across nodes', settings: liveSettings },
  mqtt: { title: 'MQTT and Home Assistant', settings: mqttSettings },
  webhooks: { title: 'Webhooks', settings: webhookSettings },
  cluster: { title: 'Several nodes', settings: clusterSettings },
} satisfies Record<string, { title: string; settings: Record<string, Setting> }>;

type Schemas<T extends Record<string, Setting>> = { [K in keyof T]: T[K]['schema'] };
const schemas = <T extends Record<string, Setting>>(settings: T): Schemas<T> =>
  Object.fromEntries(Object.entries(settings).map(([k, s]) => [k, s.schema])) as Schemas<T>;

export const ConfigSchema = z.object({
  ...schemas(http),
  ...schemas(facebank),
  ...schemas(inference),
  ...schemas(detection),
  ...schemas(cameras),
  ...schemas(events),
  ...schemas(liveSettings),
  ...schemas(mqttSettings),
  ...schemas(webhookSettings),
  ...schemas(clusterSettings),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Every setting by its key. */
export const SETTINGS: Record<keyof Config, Setting> = {
  ...http,
  ...facebank,
  ...inference,
  ...detection,
  ...cameras,
  ...events,
  ...liveSettings,
  ...mqttSettings,
  ...webhookSettings,
  ...clusterSettings,
};

/** `maxDetectFps` → `MAX_DETECT_FPS`. */
export function envName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** Environment variable → config key, for every setting the environment may give. */
export const ENV_KEYS: Readonly<Record<string, keyof Config>> = Object.fromEntries(
  (Object.keys(SETTINGS) as (keyof Config)[]).filter((k) => SETTINGS[k].env).map((k) => [envName(k), k]),
);

/** The `cameras` section as the camera registry takes it. */
export function cameraDefaults(config: Config): CameraDefaults {
  return {
    maxDetectFps: config.maxDetectFps,
    motion: config.cameraMotion,
    webcamMaxDetectFps: config.webcamMaxDetectFps,
    previewFps: config.previewFps,
    previewWidth: config.previewWidth,
    minFaceSize: config.cameraMinFaceSize,
    sourceTimings: DECODER_TIMINGS,
  };
}

/** What each browser webcam's source is given besides its ICE addresses and logger. */
export function webcamSourceDefaults(): Omit<WebRtcSourceOptions, 'iceHostAddresses' | 'logger'> {
  // A webcam is decoded at the rate the browser sends.
  return { ...DECODER_TIMINGS, ...WEBCAM_SETTINGS, fps: 0 };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads the config file named by CONFIG_FILE (or ./facerec.config.json when present), then the
 * environment on top, then `overrides` (command-line flags) on top of both.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof Config, unknown>> = {},
): Config {
  const file = env.CONFIG_FILE ?? (existsSync('facerec.config.json') ? 'facerec.config.json' : undefined);
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read config file ${resolve(file)}: ${(err as Error).message}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const parsed = ConfigSchema.strict().safeParse({ ...fromFile, ...fromEnv, ...overrides });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const [key, ...rest] = i.path.map(String);
      if (key === undefined) return i.message;
      const where = [key, ...rest].join('.');
      return key in SETTINGS && SETTINGS[key as keyof Config].env
        ? `${envName(key)} (${where}): ${i.message}`
        : `${where}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
