// A track's identity evidence: the quality-weighted sum of its face embeddings. Two questions are asked of it:
// - is a new embedding still this face? A cosine with the running mean below `sameFaceMin` means another
//   person took the track's place (a cut, someone stepping in front), far more reliably than appearance;
// - who is it? The L2-normalised mean goes to the facebank's matcher (and so its operating point) as one
//   probe: noise in single frames (blur, a turned head) averages out instead of being voted on.
import type { Box } from '../../models/box.ts';
import type { Point } from '../../models/mtcnn/detector.ts';

/** The matcher's answer for one probe (the facebank's `Match` fits). */
export interface Observation {
  /** A person, or 'Unknown'. */
  name: string;
  /** Cosine similarity with the best candidate. */
  score: number;
}

/** What a track asks of the facebank (the facebank's `Matcher` fits). */
export interface IdentityMatcher {
  /** Undefined when there is no answer (e.g. the facebank is switching embedders): the decision waits. */
  match(embedding: Float32Array): Observation | undefined;
}

/**
 * Cosine with a track's mean embedding below which a new embedding is another person. On the LFW dev test
 * pairs (MobileFaceNet, no flip, as video is embedded), 1 of 500 different-person pairs scores ≥ 0.4 (19 score
 * ≥ 0.3), and 5 of 500 same-person pairs score < 0.4; those are photos taken years apart, while within a track
 * the face is the same moment's face, and it is compared with the mean of several frames, which is steadier.
 * A rare false split costs little: the new track decides the same name and continues the visit.
 */
export const SAME_FACE_MIN = 0.4;

/** Faces at least this tall (px) count fully; smaller ones are blurrier and weigh less (quadratically). */
const FULL_WEIGHT_HEIGHT = 80;

/**
 * How much one face's embedding counts: its measured quality (models/quality.ts: the weakest of size,
 * sharpness, pose and detector confidence, 0..1; a poor face scores under 0.5) when the pool gave one, so a
 * blurred or turned frame moves the track's mean less than a sharp frontal one. Otherwise what the detection
 * itself says: detector confidence × size × frontality (from the 5 landmarks: the nose's offset from the eyes'
 * midpoint, relative to the eye distance).
 */
export function faceWeight(face: {
  box: Box;
  score: number;
  landmarks?: readonly Point[] | undefined;
  quality?: number | undefined;
}): number {
  if (face.quality !== undefined) return Math.max(1e-3, face.quality);
  const h = Math.max(0, face.box.y2 - face.box.y1);
  const size = Math.min(1, h / FULL_WEIGHT_HEIGHT) ** 2;
  let frontal = 1;
  const lm = face.landmarks;
  if (lm && lm.length >= 3) {
    const [le, re, nose] = [lm[0]!, lm[1]!, lm[2]!];
    const eyes = Math.hypot(re[0] - le[0], re[1] - le[1]);
    if (eyes > 0) {
      const off = Math.abs(nose[0] - (le[0] + re[0]) / 2) / eyes;
      // 0 for a frontal face, about 0.5 in profile: profile faces still count, a quarter as much.
      frontal = Math.max(0.25, 1 - 1.5 * off);
    }
  }
  return Math.max(1e-3, face.score * size * frontal);
}

/** The running evidence of one track. */
export class TrackEvidence {
  private sum: Float64Array | undefined;
  /** Embeddings added. */
  count = 0;

  /** Cosine of `embedding` (L2-normalised) with the mean so far; 1 while there is no evidence. */
  similarity(embedding: Float32Array): number {
    const sum = this.sum;
    if (!sum || sum.length !== embedding.length) return 1;
    let dot = 0;
    let norm = 0;
    for (let i = 0; i < sum.length; i++) {
      dot += sum[i]! * embedding[i]!;
      norm += sum[i]! * sum[i]!;
    }
    return norm > 0 ? dot / Math.sqrt(norm) : 1;
  }

  add(embedding: Float32Array, weight: number): void {
    // A facebank that switched embedders changes the dimension: the old evidence says nothing any more.
    if (!this.sum || this.sum.length !== embedding.length) {
      this.sum = new Float64Array(embedding.length);
      this.count = 0;
    }
    const sum = this.sum;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + weight * embedding[i]!;
    this.count++;
  }

  /** The L2-normalised weighted mean; undefined without evidence. */
  mean(): Float32Array | undefined {
    const sum = this.sum;
    if (!sum || this.count === 0) return undefined;
    let norm = 0;
    for (const v of sum) norm += v * v;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const out = new Float32Array(sum.length);
    for (let i = 0; i < sum.length; i++) out[i] = sum[i]! * inv;
    return out;
  }
}

/**
 * A track's name, decided from its evidence and kept steady: the first decision waits for `toDecide`
 * embeddings; afterwards a different answer replaces the name only when `toChange` answers in a row give it,
 * so a mean that hovers at the operating point does not flicker between a name and Unknown.
 */
export class IdentityDecision {
  name: string | undefined;
  score = 0;
  private pending: string | undefined;
  private pendingCount = 0;

  constructor(
    private readonly toDecide: number,
    private readonly toChange: number,
  ) {}

  /** Folds in the matcher's answer for the current mean; returns true when the name changed. */
  update(answer: Observation, evidence: number): boolean {
    if (this.name === undefined) {
      if (evidence < this.toDecide) return false;
      this.name = answer.name;
      this.score = answer.score;
      return true;
    }
    if (answer.name === this.name) {
      this.score = answer.score;
      this.pending = undefined;
      this.pendingCount = 0;
      return false;
    }
    this.pendingCount = answer.name === this.pending ? this.pendingCount + 1 : 1;
    this.pending = answer.name;
    if (this.pendingCount < this.toChange) return false;
    this.name = answer.name;
    this.score = answer.score;
    this.pending = undefined;
    this.pendingCount = 0;
    return true;
  }
}
