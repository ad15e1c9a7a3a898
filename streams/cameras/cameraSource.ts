// The frame source a camera's settings call for, and the rate it is decoded at.
import type { Logger } from '../../models/logger.ts';
import { redactUrl } from '../sources/credentials.ts';
import { FileSource } from '../sources/fileSource.ts';
import { RtspSource } from '../sources/rtspSource.ts';
import type { CameraSettings, FrameSource } from '../types.ts';
import type { CameraDefaults } from './cameraTypes.ts';
import type { Entry } from './entry.ts';
import { FailedSource } from './failedSource.ts';
import { kindOfUrl } from './validation.ts';

/**
 * Frames per second to decode when the camera sets no rate: no more than detection and previews can use.
 * Converting and piping every frame of a 25 fps stream as RGB cost far more than the frames were worth.
 */
export function decodeFps(s: CameraSettings, defaults: Pick<CameraDefaults, 'previewFps'>): number {
  if (s.inputFps > 0) return s.inputFps;
  return s.maxDetectFps > 0 ? Math.max(s.maxDetectFps, defaults.previewFps) : 0;
}

/** RtspSource for rtsp:// (and other URL schemes, which it reports as unsupported), FileSource for paths. */
export function defaultSource(s: CameraSettings, defaults: CameraDefaults, logger: Logger | undefined): FrameSource {
  const common = {
    ...defaults.sourceTimings,
    fps: decodeFps(s, defaults),
    ...(s.detectWidth > 0 ? { width: s.detectWidth } : {}),
    ...(logger ? { logger } : {}),
  };
  if (!s.url) return new FailedSource('file', 'no URL configured');
  return kindOfUrl(s.url) === 'rtsp'
    ? new RtspSource({ url: s.url, ...common })
    : new FileSource({ path: s.url, ...common });
}

/** The camera's source, or one that reports in clear words why it could not be made (never a throw). */
export function sourceOrFailure(
  entry: Entry,
  create: (settings: CameraSettings) => FrameSource,
  logger: Logger | undefined,
): FrameSource {
  try {
    return create(entry.settings);
  } catch (err) {
    const reason = `cannot open the camera: ${redactUrl((err as Error).message)}`;
    logger?.error({ camera: entry.settings.id, err: reason }, 'camera source failed');
    return new FailedSource(entry.kind, reason);
  }
}
