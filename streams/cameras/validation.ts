// Camera settings from the API and from the config file, checked against the one schema (settings.ts).
import { statSync } from 'node:fs';
import path from 'node:path';
import { redactUrl } from '../sources/credentials.ts';
import type { CameraKind, CameraSettings } from '../types.ts';
import { type CameraDefaults, CameraError } from './cameraTypes.ts';
import { CameraSettingsInput, type CheckedCameraInput } from './settings.ts';

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

export function parseInput(input: unknown): CheckedCameraInput {
  const parsed = CameraSettingsInput.safeParse(input);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
      .join('; ');
    throw new CameraError('invalid_camera', message);
  }
  return parsed.data;
}

/** Checked fields made a camera's settings: what the camera leaves unset follows the server's defaults. */
export function resolveSettings(
  input: CheckedCameraInput,
  id: string,
  url: string,
  defaults: Pick<CameraDefaults, 'maxDetectFps' | 'motion'>,
): CameraSettings {
  return {
    ...input,
    id,
    url,
    maxDetectFps: input.maxDetectFps ?? defaults.maxDetectFps,
    motion: input.motion ?? defaults.motion,
  };
}

/**
 * A config-file camera's settings: its fields were checked with the config (the same schema); a bad URL shows
 * up as the camera's lastError rather than stopping the server.
 */
export function configCameraSettings(input: CheckedCameraInput, id: string, defaults: CameraDefaults): CameraSettings {
  const url = URL_SCHEME.test(input.url) ? input.url : path.resolve(input.url);
  return resolveSettings(input, id, url, defaults);
}
