// A face's appearance in 256 numbers: its aligned crop, grey, 16×16, zero-mean and unit-length, so the dot
// product of two signatures is their normalised cross-correlation. Far cheaper than an embedding (one small
// warp, no network), and good at one thing: telling whether the face in a tracked box is still the same face.
// On the test photos, a face moved, rescaled by 7% and brightened by 12% keeps ≥ 0.87 with itself, while
// 95% of pairs of different people score under 0.69 (median 0.26).
import { arcfaceTemplate, type Image, type Points, similarityTransform, warpAffine } from './align.ts';

/**
 * Similarity at or above which a face still looks like an earlier picture of itself: a face keeps ≥ 0.87 with
 * itself moved, rescaled and re-lit, so a lower score means the picture really changed (perhaps to another
 * person: only an embedding can tell).
 */
export const SAME_LOOK_MIN = 0.85;

/** Signature side; each cell averages a 4×4 block of a 64×64 aligned crop (a plain 16×16 warp would alias). */
const SIDE = 16;
const CROP = 64;
const BLOCK = CROP / SIDE;
const TEMPLATE = arcfaceTemplate(CROP);

export function faceSignature(image: Image, landmarks: Points): Float32Array {
  const crop = warpAffine(image, similarityTransform(landmarks, TEMPLATE), CROP, CROP);
  const out = new Float32Array(SIDE * SIDE);
  const C = image.channels;
  for (let y = 0; y < CROP; y++) {
    const row = ((y / BLOCK) | 0) * SIDE;
    for (let x = 0; x < CROP; x++) {
      const o = (y * CROP + x) * C;
      const grey = C >= 3 ? 0.299 * crop[o]! + 0.587 * crop[o + 1]! + 0.114 * crop[o + 2]! : crop[o]!;
      const cell = row + ((x / BLOCK) | 0);
      out[cell] = out[cell]! + grey;
    }
  }
  let mean = 0;
  for (const v of out) mean += v;
  mean /= out.length;
  let norm = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i]! - mean;
    out[i] = v;
    norm += v * v;
  }
  // A flat crop (all one grey) has no appearance to compare: it stays all zeros and matches nothing.
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < out.length; i++) out[i] = out[i]! * inv;
  }
  return out;
}

/** Normalised cross-correlation of two signatures: 1 for the same picture, about 0 for unrelated ones. */
export function signatureSimilarity(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}
