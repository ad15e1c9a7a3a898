// What a CameraPipeline is given, and the detection settings it uses for video.
import type { FaceNamer } from '../../facebank/recognize.ts';
import type { Logger } from '../../models/logger.ts';
import type { DetectOptions } from '../../models/mtcnn/detector.ts';
import type { FacePool } from '../../models/pool/facePool.ts';
import type { EventSink } from '../events.ts';
import type { TrackerOptions } from '../tracking/trackerOptions.ts';
import type { FrameSource } from '../types.ts';
import type { GateSettings } from './motionGate.ts';
import type { SharedScheduler } from './sharedScheduler.ts';

/**
 * MTCNN settings for video frames, where every frame's cost is latency. R-Net's and O-Net's cost grows with the
 * P-Net candidates, which a cluttered 1280×720 frame has by the hundred, so the candidate stages are stricter
 * than for still images while O-Net's final gate is the same:
 * - score thresholds 0.7 / 0.8 / 0.7 (stills: 0.6 / 0.7 / 0.7);
 * - candidates of different pyramid levels merged from IoU 0.5 (stills: 0.7): fewer candidates, the same faces
 *   (README "Live cameras");
 * - at most 200 candidates, against pathological clutter.
 * A face the stricter stages miss in one frame keeps its track (tracks survive missed frames).
 */
export const VIDEO_DETECT_OPTIONS: Partial<DetectOptions> = {
  thresholds: [0.7, 0.8, 0.7],
  crossScaleNms: 0.5,
  maxCandidates: 200,
};

/**
 * Faces embedded per video frame at most. A cut to a crowded scene brings many new faces at once, each wanting
 * an embedding on each of its first frames; unbounded, that frame's lag doubles. With
 * the budget the largest are embedded first and the others in the next frames (settled faces are skipped), so
 * a sixth face is named a few frames later instead of every face being late.
 */
export const MAX_EMBEDDINGS_PER_FRAME = 3;

/** JPEG quality of the previews. */
export const PREVIEW_QUALITY = 70;

/**
 * The best-face crop kept with a visit's event: the face box with 30% of its size added on each side, so the
 * facebank can analyse it like any photo when it is enrolled (README "Unknown faces"), at most 320 px wide.
 */
export const EVENT_CROP = { margin: 0.3, maxWidth: 320, quality: 85 } as const;

export interface PipelineOptions {
  cameraId: string;
  /** Shown in health. */
  name: string;
  source: FrameSource;
  scheduler: SharedScheduler;
  pool: Pick<FacePool, 'analyzeFrame'>;
  matcher: FaceNamer;
  /** Person events are stored here before they are emitted (the id comes from the store). */
  events: EventSink;
  /** Detections per second at most (the camera's own, else the server's MAX_DETECT_FPS). */
  maxDetectFps: number;
  /** Smallest face searched for, in frame pixels (CAMERA_MIN_FACE_SIZE). */
  minFaceSize: number;
  /** Previews per second (PREVIEW_FPS; 0: none). */
  previewFps: number;
  /** Preview width in pixels (PREVIEW_WIDTH; never enlarged). */
  previewWidth: number;
  /** Motion gating, masks and detection region; absent: every dispatched frame is analysed whole. */
  motion?: GateSettings;
  tracker?: Partial<TrackerOptions>;
  logger?: Logger;
}
