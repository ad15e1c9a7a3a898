// A FaceTracker's settings and their defaults.
import { SAME_LOOK_MIN } from '../../models/faceSignature.ts';
import { SAME_FACE_MIN } from './identity.ts';

export interface TrackerOptions {
  /** Least IoU between a track's predicted box and a detection for them to be the same face. */
  minIou: number;
  /** A track ends after this many detection frames in a row without its face. */
  maxMissed: number;
  /** …or when its face has not been seen for this long, whatever the detection rate. */
  maxAgeMs: number;
  /** A track's name is first decided once it has this many embeddings. */
  evidenceToDecide: number;
  /** A decided name changes only when this many answers in a row (one per new embedding) give another. */
  answersToChange: number;
  /** Cosine with a track's mean embedding below which a new embedding is another person (see identity.ts). */
  sameFaceMin: number;
  /** A decided track's face is embedded again after this long. */
  recheckMs: number;
  /**
   * Appearance similarity with the face at the track's last embedding below which its face is embedded again
   * at once (the embedding then says whether it is still the same person).
   */
  recheckBelow: number;
  /** A visit's end is held back this long, so a re-appearance within it continues the visit. */
  cooldownMs: number;
  /**
   * Least appearance similarity (signatures of the track's last face and the detection) for a detection to
   * continue a track; below it the detection is another face in the same place and starts a new track.
   */
  minAppearance: number;
}

/**
 * Defaults, for detection at about 5–25 fps:
 * - minIou 0.3: a face moves little between detections once the prediction carries its velocity.
 * - maxMissed 5 (0.5 s at 10 fps): rides out detector drop-outs on blur or a turned head.
 * - maxAgeMs 2000: at low detection rates (many cameras) five misses would span seconds, over which a
 *   constant-velocity prediction is no longer worth matching against.
 * - evidenceToDecide 3: an undecided track is embedded every frame, so its name shows after 3 detections
 *   (0.3 s at 10 fps), from the mean of three faces rather than one.
 * - answersToChange 2: one odd answer never renames a track; a real change shows at the next re-check.
 * - sameFaceMin: SAME_FACE_MIN (identity.ts).
 * - recheckMs 1000: a decided identity costs one embedding per second instead of one per frame.
 * - recheckBelow SAME_LOOK_MIN (faceSignature.ts): a settled face is re-embedded early only when its picture
 *   really changed; the embedding then decides whether it is still the same person.
 * - cooldownMs 10 000: longer than a typical occlusion (someone walking past, a turn away).
 * - minAppearance 0.7: one face between two detections scores ≥ 0.87 even moved, rescaled and re-lit
 *   (faceSignature.ts); 95% of pairs of different people score below it. It splits most cuts before any
 *   embedding; the others (people who look alike in 16×16) are split by their first embedding, which the
 *   changed look asks for in that same frame (see `settledFaces`).
 */
export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = {
  minIou: 0.3,
  maxMissed: 5,
  maxAgeMs: 2000,
  evidenceToDecide: 3,
  answersToChange: 2,
  sameFaceMin: SAME_FACE_MIN,
  recheckMs: 1000,
  recheckBelow: SAME_LOOK_MIN,
  cooldownMs: 10_000,
  minAppearance: 0.7,
};
