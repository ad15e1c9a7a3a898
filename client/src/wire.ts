// What the server sends, as the browser sees it. The client imports nothing server-side (the dashboard talks to
// the server only over HTTP, Socket.IO and WebRTC), so these mirror streams/types.ts and server/live/protocol.ts; the
// browser tests catch a drift.
export type Box = [x1: number, y1: number, x2: number, y2: number];
export type Point = [x: number, y: number];

/**
 * An image's analysis (facebank/types.ts): `crop_fallback` means no face was found and the image was used whole;
 * `poor_quality`, that the face is too small, blurred or turned to be used for matching.
 */
export type ImageStatus = 'embedded' | 'crop_fallback' | 'several_faces' | 'invalid_image' | 'poor_quality';

/** GET /api/people: one image of a person. */
export interface FacebankImage {
  person: string;
  file: string;
  status: ImageStatus;
  /** Why the image was used as a crop, flagged or rejected; absent for 'embedded'. */
  message?: string;
  sha256: string;
}

/** GET /api/people: a person with their images, sorted by file name. */
export interface Person {
  name: string;
  images: FacebankImage[];
}

export interface TrackedFace {
  trackId: number;
  box: Box;
  name: string;
  score: number;
  landmarks?: Point[];
  predicted: boolean;
}

export interface Detections {
  cameraId: string;
  seq: number;
  frameTime: number;
  width: number;
  height: number;
  faces: TrackedFace[];
}

export type CameraKind = 'rtsp' | 'file' | 'webrtc';
export type CameraState = 'connecting' | 'live' | 'stalled' | 'reconnecting' | 'stopped';

export interface CameraHealth {
  id: string;
  name: string;
  kind: CameraKind;
  state: CameraState;
  inputFps: number;
  processedFps: number;
  lagMs: { p50: number; p95: number };
  reconnects: number;
  lastError?: string;
  lastFrameAt?: number;
  /** Person events not stored (storage full or read-only). */
  eventsDropped?: number;
}

export interface PreviewMeta {
  cameraId: string;
  seq: number;
  detections: Detections;
}

export interface PersonEventMessage {
  id: number;
  type: 'person_appeared' | 'person_left';
  cameraId: string;
  trackId: number;
  name: string;
  score: number;
  at: number;
  cropUrl: string | null;
}

export type CameraOrigin = 'api' | 'config' | 'session';

/** GET /api/cameras: one camera with its health (the URL's credentials redacted). */
export interface Camera {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  maxDetectFps: number;
  inputFps: number;
  kind: CameraKind;
  persistent: boolean;
  origin: CameraOrigin;
  /** Config-file and webcam-session cameras cannot be changed or removed over the API. */
  readOnly: boolean;
  health: CameraHealth;
}

/** The answer to `subscribe` / `unsubscribe`. */
export type SubscribeAck = { cameras: string[]; all: boolean; unknown: string[] } | { error: string; message: string };

/** The answer to `webrtc:publish` (server/live/webrtc.ts): the webcam's camera id and the SDP answer. */
export type PublishAck = { cameraId: string; sdp: string } | { error: string; message: string };

/** `webrtc:ended`: the server ended this page's webcam (connection lost, server shutting down, …). */
export interface WebcamEnded {
  cameraId: string;
  reason: string;
}

/** GET /api/people/{name}/negatives, POST /api/events/{id}/reject: a face that is not this person. */
export interface NegativeExample {
  id: number;
  person: string;
  /** The event it was rejected on, or null for an uploaded image. */
  eventId: number | null;
  sha256: string | null;
  /** The event's face crop, while it is kept. */
  cropUrl: string | null;
  createdAt: number;
}

/** GET /api/unknowns: repeated visits of one person the facebank does not know, most typical face first. */
export interface UnknownCluster {
  id: number;
  count: number;
  first: number;
  last: number;
  events: PersonEventMessage[];
}

/** GET /api/health's `operatingPoint` (server/schemas.ts OperatingPoint): the match threshold in force and why. */
export interface OperatingPoint {
  threshold: number;
  source: 'override' | 'calibration' | 'facebank' | 'fallback';
  fpir?: number;
  people: number;
  reason: string;
}

/** GET /api/health `integrations` (server/integrations/health.ts). */
export interface IntegrationsHealth {
  mqtt:
    | { enabled: false }
    | {
        enabled: true;
        url: string;
        connected: boolean;
        published: number;
        buffered: number;
        dropped: number;
        reconnects: number;
        lastError?: string;
      };
  webhooks: {
    url: string;
    delivered: number;
    failures: number;
    retries: number;
    pending: number;
    dropped: number;
    lastStatus?: number;
    lastError?: string;
    lastAt?: number;
  }[];
  frigate?: { recognised: number; failed: number };
}
