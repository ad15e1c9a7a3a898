// The config schema: environment names, errors that name the setting and its limit, the camera schema shared
// with the API, and the README's tables rendered from it.

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOTION_DEFAULTS } from '../streams/cameras/settings.ts';
import { ConfigError, ENV_KEYS, loadConfig } from './config.ts';
import { withConfigTables } from './configDocs.ts';

const problem = (env: Record<string, string>, overrides: Record<string, unknown> = {}): string => {
  try {
    loadConfig({ ...env }, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify({ env, overrides })}`);
};

describe('config', () => {
  let dir: string;
  /** An empty config file, so that a facerec.config.json in the working directory plays no part. */
  let NO_FILE: { CONFIG_FILE: string };
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facerec-config-'));
    NO_FILE = { CONFIG_FILE: join(dir, 'empty.json') };
    await writeFile(NO_FILE.CONFIG_FILE, '{}');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps every environment variable users may have set', () => {
    // The names documented before the schema derived them; a rename would silently drop a user's setting.
    const documented = [
      'HOST',
      'PORT',
      'FACEBANK_DIR',
      'DATABASE_PATH',
      'API_KEY',
      'RECOGNITION_REQUIRES_KEY',
      'MATCH_FPIR',
      'MATCH_THRESHOLD',
      'MIN_FACE_QUALITY',
      'EXECUTION_PROVIDER',
      'POOL_SIZE',
      'INTRA_OP_THREADS',
      'MAX_QUEUE',
      'EMBEDDER',
      'FLIP',
      'MIN_FACE_SIZE',
      'MAX_FACES',
      'BODY_LIMIT_BYTES',
      'MAX_IMAGE_PIXELS',
      'WATCH_FACEBANK',
      'LOG_LEVEL',
      'LOG_FORMAT',
      'MAX_DETECT_FPS',
      'WEBCAM_MAX_DETECT_FPS',
      'CAMERA_MOTION',
      'CAMERA_MIN_FACE_SIZE',
      'PREVIEW_FPS',
      'PREVIEW_WIDTH',
      'EVENTS_RETENTION_DAYS',
      'REDIS_URL',
      'MQTT_URL',
      'MQTT_USERNAME',
      'MQTT_PASSWORD',
      'MQTT_CA_FILE',
      'MQTT_CERT_FILE',
      'MQTT_KEY_FILE',
      'MQTT_REJECT_UNAUTHORIZED',
      'MQTT_TOPIC_PREFIX',
      'MQTT_DISCOVERY',
      'MQTT_DISCOVERY_PREFIX',
      'MQTT_CROPS',
      'MQTT_BUFFER_SIZE',
      'FRIGATE_URL',
      'FRIGATE_TOPIC_PREFIX',
      'WEBHOOK_URL',
      'WEBHOOK_SECRET',
      'WEBHOOK_RETRIES',
      'WEBHOOK_TIMEOUT_MS',
      'PUBLIC_URL',
      'DATABASE_URL',
      'NODE_NAME',
      'LEASE_SECONDS',
    ];
    expect(Object.keys(ENV_KEYS).sort()).toEqual([...documented].sort());
    const config = loadConfig({ ...NO_FILE, MAX_DETECT_FPS: '7.5', WATCH_FACEBANK: '0', CAMERA_MIN_FACE_SIZE: '64' });
    expect(config).toMatchObject({ maxDetectFps: 7.5, watchFacebank: false, cameraMinFaceSize: 64 });
  });

  it('names the variable and the limit of an invalid value', () => {
    expect(problem({ ...NO_FILE, PORT: '70000' })).toContain('PORT (port): must be at most 65535');
    expect(problem({ ...NO_FILE, POOL_SIZE: '1.5' })).toContain('POOL_SIZE (poolSize): must be a whole number');
    expect(problem({ ...NO_FILE, MATCH_FPIR: '0' })).toContain('MATCH_FPIR (matchFpir): must be above 0');
    expect(problem({ ...NO_FILE, MAX_DETECT_FPS: '121' })).toContain(
      'MAX_DETECT_FPS (maxDetectFps): must be at most 120',
    );
    expect(problem({ ...NO_FILE, API_KEY: 'short' })).toContain('API_KEY (apiKey): must be at least 8 characters');
    expect(problem({ ...NO_FILE, FLIP: 'yes' })).toContain('FLIP (flip): must be true or false');
    expect(problem({ ...NO_FILE, DATABASE_URL: 'mysql://db/facerec' })).toContain(
      'DATABASE_URL (databaseUrl): must be a URL starting with postgres://, postgresql://',
    );
    expect(problem({ ...NO_FILE, LOG_LEVEL: 'loud' })).toContain('LOG_LEVEL (logLevel): must be one of fatal');
    expect(problem({ ...NO_FILE, MQTT_URL: 'http://broker' })).toContain(
      'MQTT_URL (mqttUrl): must be a URL starting with mqtt://, mqtts://, ws://, wss://',
    );
    expect(problem({ ...NO_FILE, MQTT_TOPIC_PREFIX: 'a/b' })).toContain(
      'MQTT_TOPIC_PREFIX (mqttTopicPrefix): must be letters',
    );
    expect(problem({ ...NO_FILE }, { webhooks: [{ url: 'ftp://x' }] })).toContain('webhooks.0.url: must be an http');
  });

  it('checks config-file cameras with the same schema as the API', async () => {
    const file = join(dir, 'facerec.config.json');
    const camera = { name: ' door ', url: 'rtsp://192.0.2.10/stream1', maxDetectFps: 8 };
    await writeFile(file, JSON.stringify({ port: 5001, cameras: [camera] }));
    const config = loadConfig({ CONFIG_FILE: file, PORT: '5002' });
    expect(config.port).toBe(5002); // the environment wins over the file
    expect(config.cameras).toEqual([
      {
        ...camera,
        name: 'door',
        enabled: true,
        inputFps: 0,
        ...MOTION_DEFAULTS,
        masks: [],
        detectRegion: null,
        detectWidth: 0,
      },
    ]);

    await writeFile(
      file,
      JSON.stringify({
        cameras: [
          { ...camera, maxDetectFps: 500 },
          { name: '', url: 'x' },
        ],
      }),
    );
    const message = problem({ CONFIG_FILE: file });
    expect(message).toContain('cameras.0.maxDetectFps: must be at most 120');
    expect(message).toContain('cameras.1.name: the name is empty');
    await writeFile(file, JSON.stringify({ maxDetectFPS: 5 }));
    expect(problem({ CONFIG_FILE: file })).toMatch(/maxDetectFPS/);
  });

  it('the README configuration tables are the ones the schema renders (npm run docs:config)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toBe(withConfigTables(readme));
  });
});
