// What the camera registry takes and shows, its defaults, and its errors.
import type { CameraHealth, CameraKind, CameraSettings } from '../types.ts';

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
