// What the camera registry takes and shows, its defaults, and its errors.
import { CodedError } from '../../models/codedError.ts';
import type { DecoderTimings } from '../sources/sourceDefaults.ts';
import type { CameraHealth, CameraKind, CameraSettings } from '../types.ts';

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

/** The server-wide camera settings (the config's `cameras` section), resolved: every one is given. */
export interface CameraDefaults {
  /** For a camera that sets no maxDetectFps of its own. */
  maxDetectFps: number;
  /** Motion gating for a camera that does not say (CAMERA_MOTION). */
  motion: boolean;
  /** For browser webcams (session cameras): a person waits for their own name (README "Webcam latency"). */
  webcamMaxDetectFps: number;
  previewFps: number;
  previewWidth: number;
  minFaceSize: number;
  /** Not user settings: the sources' watchdog, retry and kill timings (sources/sourceDefaults.ts). */
  sourceTimings: DecoderTimings;
}

export type CameraErrorCode = 'camera_not_found' | 'invalid_camera' | 'camera_read_only';

export class CameraError extends CodedError<CameraErrorCode> {
  override name = 'CameraError';
}
