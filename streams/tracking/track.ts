// One track's state inside a FaceTracker.

import type { Box } from '../../models/box.ts';
import type { Point } from '../../models/mtcnn/detector.ts';
import { IdentityDecision, TrackEvidence } from './identity.ts';
import { initFilter, KF_STRIDE } from './kalman.ts';
import type { TrackerOptions } from './trackerOptions.ts';
import type { BestFace, TrackerDetection } from './trackerTypes.ts';

export interface Track {
  readonly id: number;
  readonly kf: Float64Array;
  /** Time the filter state refers to. */
  filterAt: number;
  firstBox: Box;
  firstSeenAt: number;
  lastBox: Box;
  landmarks: Point[] | undefined;
  /** The appearance of the last face measured, when detections carry signatures. */
  signature: Float32Array | undefined;
  /** The appearance of the face at its last embedding. */
  embeddedSignature: Float32Array | undefined;
  /** Its appearance changed since its last embedding: embed it at once. */
  changed: boolean;
  /** Another person's face took its place in this frame: it ends with the frame. */
  replaced: boolean;
  lastSeenAt: number;
  /** Detection frames in a row without this face. */
  misses: number;
  readonly evidence: TrackEvidence;
  readonly decision: IdentityDecision;
  lastObservedAt: number;
  /** The decided name; undefined until `evidenceToDecide` embeddings. */
  name: string | undefined;
  /** The matcher's score for the track's mean embedding. */
  score: number;
  /** The trackId of the visit this track is part of (its own, or an earlier track's it continued). */
  visitId: number | undefined;
  best: BestFace | undefined;
}

export function newTrack(id: number, det: TrackerDetection, now: number, options: Readonly<TrackerOptions>): Track {
  const t: Track = {
    id,
    kf: new Float64Array(4 * KF_STRIDE),
    filterAt: now,
    firstBox: det.box,
    firstSeenAt: now,
    lastBox: det.box,
    landmarks: det.landmarks,
    signature: det.signature,
    embeddedSignature: undefined,
    changed: false,
    replaced: false,
    lastSeenAt: now,
    misses: 0,
    evidence: new TrackEvidence(),
    decision: new IdentityDecision(options.evidenceToDecide, options.answersToChange),
    lastObservedAt: Number.NEGATIVE_INFINITY,
    name: undefined,
    score: 0,
    visitId: undefined,
    best: undefined,
  };
  initFilter(t.kf, det.box);
  return t;
}
