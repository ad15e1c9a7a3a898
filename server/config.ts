// Configuration: environment variables over an optional JSON config file over defaults, validated once at
// start-up. Everything below server/ receives plain typed values from here, never process.env.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { defaultFacePoolSettings } from '../models/pool/facePool.ts';
import { DEFAULT_MIN_QUALITY } from '../models/quality.ts';
import type { CameraDefaults } from '../streams/cameras/cameraTypes.ts';
import { CameraSettingsInput, MAX_FPS } from '../streams/cameras/settings.ts';

/**
 * The accepted rate of false names: at most 1% of strangers (people not in the facebank) given some name. The
 * match threshold is derived from it and the facebank's size (facebank/operatingPoint.ts; README "Open-set
 * identification"). MATCH_THRESHOLD, when set, overrides it with a fixed cosine.
 */
export const DEFAULT_MATCH_FPIR = 0.01;

const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const poolDefaults = defaultFacePoolSettings(availableParallelism());

export const ConfigSchema = z.object({
  host: z.string().min(1).default('localhost'),
  port: int(0, 65535).default(5000),
  facebankDir: z.string().min(1).default('./facebank/people'),
  databasePath: z.string().min(1).default('./data/facerec.db'),
  /** Required for routes that change the facebank; without one they only answer local clients. */
  apiKey: z.string().min(8, 'API_KEY must be at least 8 characters').optional(),
  /** Also require the API key for recognition (POST /rec, /id_info, /api/recognize). */
  recognitionRequiresKey: bool.default(false),
  /** A fixed cosine threshold; when set it wins over the one derived from matchFpir. */
  matchThreshold: z.coerce.number().min(-1).max(1).optional(),
  matchFpir: z.coerce
    .number()
    .gt(0, 'must be a rate above 0 (e.g. 0.01 for 1%)')
    .max(0.5, 'must be a rate of at most 0.5 (e.g. 0.01 for 1%)')
    .default(DEFAULT_MATCH_FPIR),
  /**
   * Faces whose quality (models/quality.ts: the weakest of size, sharpness, pose, detector confidence) scores
   * below this are answered 'Unknown' and refused as facebank photos; 0.5 is the measured limits, 0 turns it off.
   */
  minFaceQuality: z.coerce.number().min(0).max(1).default(DEFAULT_MIN_QUALITY),
  executionProvider: z.enum(['auto', 'cuda', 'cpu']).default('auto'),
  poolSize: int(1, 64).default(poolDefaults.size),
  intraOpThreads: int(1, 64).default(poolDefaults.intraOpThreads),
  maxQueue: int(1, 10_000).default(poolDefaults.maxQueue),
  embedder: z.string().min(1).default(poolDefaults.embedder),
  /** Add the mirrored face's embedding (about twice the embedding cost). */
  flip: bool.default(false),
  minFaceSize: int(12, 10_000).default(20),
  maxFaces: int(0, 1000).default(0),
  bodyLimitBytes: int(1024, 1024 ** 3).default(20 * 1024 * 1024),
  maxImagePixels: int(1, 1_000_000_000).default(40_000_000),
  watchFacebank: bool.default(true),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Cameras from the config file (not settable from the environment): read-only over the API, never stored. */
  cameras: z.array(CameraSettingsInput).default([]),
  /** Live preview frames per second sent to Socket.IO subscribers, per camera (0: no previews). */
  previewFps: z.coerce.number().min(0).max(60).default(10),
  /** Width of the preview JPEGs (height keeps the aspect ratio). */
  previewWidth: int(64, 4096).default(640),
  /** Upper bound on detections per second for a camera that does not set its own. */
  maxDetectFps: z.coerce.number().positive().max(MAX_FPS).default(10),
  /** Detections per second for a browser webcam: its user waits for their own name (README "Webcam latency"). */
  webcamMaxDetectFps: z.coerce.number().positive().max(MAX_FPS).default(15),
  /** Smallest face looked for in camera frames, in frame pixels: larger than for photos, as video is costlier. */
  cameraMinFaceSize: int(12, 10_000).default(40),
  /** Person events (and their face crops) older than this many days are deleted (0: kept forever). */
  eventsRetentionDays: z.coerce.number().min(0).max(36_500).default(30),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Environment variable → config key. The README lists the same table. */
export const ENV_KEYS: Record<string, keyof Config> = {
  HOST: 'host',
  PORT: 'port',
  FACEBANK_DIR: 'facebankDir',
  DATABASE_PATH: 'databasePath',
  API_KEY: 'apiKey',
  RECOGNITION_REQUIRES_KEY: 'recognitionRequiresKey',
  MATCH_THRESHOLD: 'matchThreshold',
  MATCH_FPIR: 'matchFpir',
  MIN_FACE_QUALITY: 'minFaceQuality',
  EXECUTION_PROVIDER: 'executionProvider',
  POOL_SIZE: 'poolSize',
  INTRA_OP_THREADS: 'intraOpThreads',
  MAX_QUEUE: 'maxQueue',
  EMBEDDER: 'embedder',
  FLIP: 'flip',
  MIN_FACE_SIZE: 'minFaceSize',
  MAX_FACES: 'maxFaces',
  BODY_LIMIT_BYTES: 'bodyLimitBytes',
  MAX_IMAGE_PIXELS: 'maxImagePixels',
  WATCH_FACEBANK: 'watchFacebank',
  LOG_LEVEL: 'logLevel',
  PREVIEW_FPS: 'previewFps',
  PREVIEW_WIDTH: 'previewWidth',
  MAX_DETECT_FPS: 'maxDetectFps',
  WEBCAM_MAX_DETECT_FPS: 'webcamMaxDetectFps',
  CAMERA_MIN_FACE_SIZE: 'cameraMinFaceSize',
  EVENTS_RETENTION_DAYS: 'eventsRetentionDays',
};

/** The camera settings of the config, as the camera registry takes them. */
export function cameraDefaults(config: Config): CameraDefaults {
  return {
    maxDetectFps: config.maxDetectFps,
    webcamMaxDetectFps: config.webcamMaxDetectFps,
    previewFps: config.previewFps,
    previewWidth: config.previewWidth,
    minFaceSize: config.cameraMinFaceSize,
  };
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
    const envName = (key: PropertyKey) => Object.entries(ENV_KEYS).find(([, k]) => k === key)?.[0] ?? String(key);
    const problems = parsed.error.issues.map((i) => {
      const key = i.path[0];
      return key === undefined ? i.message : `${envName(key)} (${String(key)}): ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}
