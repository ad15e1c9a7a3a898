// The shapes that flow through a camera pipeline: source → scheduler → inference → tracker → hub.
import type { Box } from '../models/box.ts';
import type { RgbImage } from '../models/image.ts';
import type { Point } from '../models/mtcnn/detector.ts';
import type { Shape } from './motion/shapes.ts';

export type CameraKind = 'rtsp' | 'file' | 'webrtc';

/**
 * connecting: first connection in progress; live: frames arriving; stalled: connected but no frame within
 * the watchdog time; reconnecting: waiting to retry after a failure; stopped: disabled or removed.
 */
export type CameraState = 'connecting' | 'live' | 'stalled' | 'reconnecting' | 'stopped';

/** One decoded frame, as packed RGB. */
export interface Frame {
  image: RgbImage;
  /** Epoch milliseconds when the frame was read from the decoder: the start of end-to-end lag. */
  capturedAt: number;
  /** Increases by one per frame of a source, across reconnects. */
  seq: number;
}

/** A camera's frames and state changes. Sources are stateful, one per camera. */
export interface FrameSource {
  readonly kind: CameraKind;
  start(): void;
  /** Stops for good: the decoder process is killed and no more events are emitted. */
  stop(): Promise<void>;
  on(event: 'frame', listener: (frame: Frame) => void): this;
  on(event: 'state', listener: (state: CameraState, error?: string) => void): this;
  off(event: 'frame', listener: (frame: Frame) => void): this;
  off(event: 'state', listener: (state: CameraState, error?: string) => void): this;
}

export interface CameraHealth {
  id: string;
  name: string;
  kind: CameraKind;
  state: CameraState;
  /** Frames per second arriving from the source, over the last few seconds. */
  inputFps: number;
  /** Frames per second that went through detection. */
  processedFps: number;
  /** Frame captured → detections emitted, milliseconds, over recent frames. */
  lagMs: { p50: number; p95: number };
  reconnects: number;
  lastError?: string;
  lastFrameAt?: number;
  /** Person events of this camera not stored since the start (storage full or read-only); absent when none. */
  eventsDropped?: number;
  /** What the motion gate decided for this pipeline's frames (absent for a pipeline without one). */
  motion?: MotionStats;
}

export interface MotionStats {
  /** Frames with no motion and no live track: not analysed. */
  skippedFrames: number;
  /** Frames analysed in a crop around motion and tracks (or the detection region). */
  croppedFrames: number;
  /** Frames analysed whole (large motion, a new scene, or motion gating off). */
  wholeFrames: number;
  /** Moving share of the last frame's watched area (0..1). */
  movingFraction: number;
}

export interface TrackedFace {
  trackId: number;
  box: Box;
  /** The track's voted identity: a person, or 'Unknown' until k of the last n observations agree. */
  name: string;
  /** Mean similarity of the observations that voted for `name`. */
  score: number;
  landmarks?: Point[];
  /** True when the box is the tracker's prediction for a frame that skipped detection. */
  predicted: boolean;
}

/** What the hub sends as `detections` for every processed frame. */
export interface Detections {
  cameraId: string;
  seq: number;
  /** The frame's capture time (epoch ms). */
  frameTime: number;
  width: number;
  height: number;
  faces: TrackedFace[];
}

export interface PersonEvent {
  id: number;
  type: 'person_appeared' | 'person_left';
  cameraId: string;
  trackId: number;
  name: string;
  score: number;
  /** Epoch milliseconds. */
  at: number;
  /** The track's best face crop, JPEG, when kept. */
  crop?: Uint8Array;
}

export interface CameraSettings {
  id: string;
  name: string;
  /** rtsp:// URL (credentials allowed; never logged or sent to clients) or a local video file path. */
  url: string;
  enabled: boolean;
  /** Upper bound on detections per second for this camera. */
  maxDetectFps: number;
  /** Decode rate: frames per second read from the source (0: the source's own rate). */
  inputFps: number;
  /** Motion gating, its thresholds, masks and detection region (streams/cameras/settings.ts). */
  motion: boolean;
  motionThreshold: number;
  motionMinArea: number;
  masks: Shape[];
  detectRegion: Shape | null;
  /** Decode width for detection (0: the source's own). */
  detectWidth: number;
}
