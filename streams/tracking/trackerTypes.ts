// What goes into and comes out of a FaceTracker (tracker.ts).
import type { Box } from '../../models/box.ts';
import type { Point } from '../../models/mtcnn/detector.ts';
import type { PersonEvent, TrackedFace } from '../types.ts';

export interface TrackerDetection {
  box: Box;
  /** Detector confidence. */
  score: number;
  landmarks?: Point[];
  /** This face's embedding (L2-normalised) when it was embedded in this frame; undefined when it was not. */
  embedding?: Float32Array | undefined;
  /** The face's appearance (models/faceSignature.ts), when computed: keeps a track on one physical face. */
  signature?: Float32Array | undefined;
  /** The face's overall quality, 0..1 (models/quality.ts), when measured: how much its embedding counts. */
  quality?: number | undefined;
}

/** Where a track's best face is, so the pipeline can cut a crop: the frame and box, never pixels. */
export interface BestFace {
  trackId: number;
  /** The frame's `seq`, when passed to `update`. */
  seq: number | undefined;
  box: Box;
  /** Detection score × box area: the largest confident face makes the best crop. */
  quality: number;
  at: number;
}

/** A settled track's expected box and its look at its last embedding (see `FaceTracker.settledFaces`). */
export interface SettledFace {
  box: Box;
  signature?: Float32Array;
}

/** A person event before the hub gives it an id and camera, with the face to crop for it. */
export type TrackerEvent = Omit<PersonEvent, 'id' | 'cameraId' | 'crop'> & { best: BestFace };

export interface TrackerUpdate extends Outcome {
  /** One per detection, in the same order. */
  faces: TrackedFace[];
  /**
   * One per detection: whether its track wanted an embedding in this frame (new, undecided, its appearance
   * changed since its last embedding, or due for a re-check).
   */
  embed: boolean[];
  /** One per detection: whether it is now its track's best face (crop it now if crops are kept). */
  best: boolean[];
}

/** What a call changed besides the faces: events to publish and best faces no longer referred to. */
export interface Outcome {
  events: TrackerEvent[];
  /** Track ids whose best face no event will refer to any more: drop their crops. */
  released: number[];
}
