// Camera settings from the API and from the config file, checked.
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { StreamLogger } from '../logger.ts';
import { redactUrl } from '../sources/credentials.ts';
import type { CameraKind, CameraSettings } from '../types.ts';
import { type CameraDefaults, CameraError, type CameraInput } from './cameraTypes.ts';

export const MAX_DETECT_FPS = 60;
export const MAX_INPUT_FPS = 120;

const InputSchema = z.object({
  name: z.string().trim().min(1, 'the name is empty').max(100, 'the name is longer than 100 characters'),
  url: z.string().trim().min(1, 'the URL is empty').max(4096),
  enabled: z.boolean().optional(),
  maxDetectFps: z.number().gt(0, 'must be above 0').max(MAX_DETECT_FPS).optional(),
  inputFps: z.number().min(0).max(MAX_INPUT_FPS).optional(),
});

export const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
export const RTSP_SCHEME = /^rtsps?:\/\//i;

/** 'rtsp' for any URL (other schemes are reported by RtspSource as unsupported), 'file' for paths. */
export function kindOfUrl(url: string): CameraKind {
  return URL_SCHEME.test(url.trim()) ? 'rtsp' : 'file';
}

/** An rtsp(s):// URL with a host, or an existing local file (made absolute); otherwise invalid_camera. */
export function checkUrl(raw: string): string {
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

export function parseInput(input: unknown): z.infer<typeof InputSchema> {
  const parsed = InputSchema.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    throw new CameraError('invalid_camera', message);
  }
  return parsed.data;
}

/**
 * A config-file camera's settings. Never throws: a bad value falls back to the default (with a warning), a bad
 * URL shows up as the camera's lastError.
 */
export function configCameraSettings(
  input: CameraInput,
  id: string,
  name: string,
  defaults: Pick<CameraDefaults, 'maxDetectFps' | 'inputFps'>,
  logger: StreamLogger | undefined,
): CameraSettings {
  const fps = (value: unknown, min: number, max: number, fallback: number, field: string) => {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && value >= min && value <= max && (field !== 'maxDetectFps' || value > 0)) {
      return value;
    }
    logger?.warn({ camera: id, [field]: value }, `config camera ${name}: invalid ${field}; using ${fallback}`);
    return fallback;
  };
  const url = String(input?.url ?? '').trim();
  return {
    id,
    name,
    url: url && !URL_SCHEME.test(url) ? path.resolve(url) : url,
    enabled: input.enabled ?? true,
    maxDetectFps: fps(input.maxDetectFps, 0, MAX_DETECT_FPS, defaults.maxDetectFps, 'maxDetectFps'),
    inputFps: fps(input.inputFps, 0, MAX_INPUT_FPS, defaults.inputFps, 'inputFps'),
  };
}
