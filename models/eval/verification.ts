// Face-verification metrics over pair similarity scores, and the LFW pairs file format.
//
// Convention everywhere: a higher score means "more likely the same person", and a pair is predicted
// "same" when score >= threshold. Thresholds chosen here are midpoints between neighbouring distinct
// scores (or ±Infinity when every pair goes one way), so they do not sit on a training score and the
// >= vs > question never changes a training-set decision.

export interface PairImage {
  name: string;
  /** 1-based image number, as in the LFW file names. */
  index: number;
}

export interface Pair {
  a: PairImage;
  b: PairImage;
  same: boolean;
  /** 0-based fold for View 2 (pairs.txt); 0 for View 1 files and files without a header. */
  fold: number;
}

export type Scores = ArrayLike<number>;
export type Labels = ArrayLike<boolean>;

export class PairsFormatError extends Error {
  override name = 'PairsFormatError';
}

const INTEGER = /^\d+$/;

function imageIndex(token: string, lineNo: number): number {
  if (!INTEGER.test(token) || Number(token) < 1) {
    throw new PairsFormatError(`line ${lineNo}: image number "${token}" is not a positive integer`);
  }
  return Number(token);
}

/**
 * Parse an LFW pairs file. The optional header is either `N` (View 1: N same pairs then N different pairs)
 * or `F N` (View 2: F folds, each N same pairs then N different pairs). Pair lines are `name i j` (same
 * person) or `name1 i name2 j` (different people), whitespace-separated. When a header is present the
 * pair count and the same/different layout are checked against it, because a mismatch means the fold
 * assignment (and so every reported number) would be wrong.
 */
export function parsePairs(text: string): Pair[] {
  const pairs: Pair[] = [];
  let header: { folds: number; perFold: number; viewTwo: boolean; line: number } | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const tokens = lines[i]!.trim().split(/\s+/).filter(Boolean);
    if (tokens.length === 0) continue;
    const isFirst = pairs.length === 0 && header === undefined;
    if (isFirst && tokens.length <= 2 && tokens.every((t) => INTEGER.test(t))) {
      const nums = tokens.map(Number);
      header =
        nums.length === 1
          ? { folds: 1, perFold: nums[0]!, viewTwo: false, line: lineNo }
          : { folds: nums[0]!, perFold: nums[1]!, viewTwo: true, line: lineNo };
      if (header.folds < 1 || header.perFold < 1)
        throw new PairsFormatError(`line ${lineNo}: header counts must be positive`);
      continue;
    }
    if (tokens.length !== 3 && tokens.length !== 4) {
      throw new PairsFormatError(
        `line ${lineNo}: expected "name i j" or "name1 i name2 j", got ${tokens.length} fields`,
      );
    }
    const [n1, i1, x, y] = tokens as [string, string, string, string | undefined];
    const a: PairImage = { name: n1, index: imageIndex(i1, lineNo) };
    const b: PairImage =
      y === undefined ? { name: n1, index: imageIndex(x, lineNo) } : { name: x, index: imageIndex(y, lineNo) };
    pairs.push({ a, b, same: y === undefined, fold: 0 });
  }

  if (header !== undefined) {
    const { folds, perFold, viewTwo } = header;
    if (pairs.length !== folds * 2 * perFold) {
      throw new PairsFormatError(
        `header on line ${header.line} promises ${folds}×2×${perFold} = ${folds * 2 * perFold} pairs, found ${pairs.length}`,
      );
    }
    for (let p = 0; p < pairs.length; p++) {
      const pair = pairs[p]!;
      const within = p % (2 * perFold);
      if (pair.same !== within < perFold) {
        throw new PairsFormatError(
          `pair ${p + 1} (${pair.a.name}) is ${pair.same ? 'same' : 'different'} but the header layout expects otherwise`,
        );
      }
      if (viewTwo) pair.fold = Math.floor(p / (2 * perFold));
    }
  }
  return pairs;
}

/** Relative path of an LFW image, `<name>/<name>_NNNN.jpg`; the caller joins the dataset directory. */
export function lfwImagePath(name: string, index: number): string {
  return `${name}/${name}_${String(index).padStart(4, '0')}.jpg`;
}

function check(scores: Scores, same: Labels, what: string): void {
  if (scores.length !== same.length) {
    throw new RangeError(`${what}: ${scores.length} scores but ${same.length} labels`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new RangeError(`${what}: score ${i} is not finite (${scores[i]})`);
  }
}

function allIndices(n: number): Uint32Array {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  return idx;
}

/** Sort a subset of indices by ascending score, in place. */
function sortByScore(scores: Scores, idx: Uint32Array): Uint32Array {
  return idx.sort((i, j) => scores[i]! - scores[j]!);
}

/** A threshold strictly above `lo` and at most `hi`, preferring the midpoint. */
function between(lo: number, hi: number): number {
  const mid = lo / 2 + hi / 2;
  return mid > lo ? mid : hi;
}

function accuracyOver(scores: Scores, same: Labels, idx: Uint32Array, threshold: number): number {
  let correct = 0;
  for (const i of idx) if (scores[i]! >= threshold === same[i]) correct++;
  return correct / idx.length;
}

function bestThresholdOver(scores: Scores, same: Labels, idx: Uint32Array): { threshold: number; accuracy: number } {
  const n = idx.length;
  if (n === 0) throw new RangeError('bestThreshold: no pairs');
  sortByScore(scores, idx);
  // Sweep the threshold upward past each group of equal scores: those pairs flip from "same" to "different".
  let correct = 0;
  for (const i of idx) if (same[i]) correct++;
  let best = correct;
  let threshold = Number.NEGATIVE_INFINITY;
  let k = 0;
  while (k < n) {
    const s = scores[idx[k]!]!;
    for (; k < n && scores[idx[k]!] === s; k++) correct += same[idx[k]!] ? -1 : 1;
    if (correct > best) {
      best = correct;
      threshold = k < n ? between(s, scores[idx[k]!]!) : Number.POSITIVE_INFINITY;
    }
  }
  return { threshold, accuracy: best / n };
}

/** Fraction of pairs classified correctly with "same" ⇔ score >= threshold. */
export function accuracyAt(scores: Scores, same: Labels, threshold: number): number {
  check(scores, same, 'accuracyAt');
  if (scores.length === 0) throw new RangeError('accuracyAt: no pairs');
  return accuracyOver(scores, same, allIndices(scores.length), threshold);
}

/**
 * The threshold that maximises accuracy, searched exactly over all midpoints between sorted distinct
 * scores (plus ±Infinity) in O(n log n). Among equally accurate thresholds the lowest is returned.
 */
export function bestThreshold(scores: Scores, same: Labels): { threshold: number; accuracy: number } {
  check(scores, same, 'bestThreshold');
  return bestThresholdOver(scores, same, allIndices(scores.length));
}

/**
 * Area under the ROC curve as the Mann–Whitney U statistic: the probability that a random same pair
 * outscores a random different pair, with ties counting one half. Needs both kinds of pair.
 */
export function rocAuc(scores: Scores, same: Labels): number {
  check(scores, same, 'rocAuc');
  const n = scores.length;
  const idx = sortByScore(scores, allIndices(n));
  let nSame = 0;
  let rankSum = 0;
  let k = 0;
  while (k < n) {
    const s = scores[idx[k]!]!;
    const start = k;
    let sameInGroup = 0;
    for (; k < n && scores[idx[k]!] === s; k++) if (same[idx[k]!]) sameInGroup++;
    // Tied scores share the average of the 1-based ranks start+1 … k.
    rankSum += sameInGroup * ((start + 1 + k) / 2);
    nSame += sameInGroup;
  }
  const nDiff = n - nSame;
  if (nSame === 0 || nDiff === 0) throw new RangeError('rocAuc: needs at least one same and one different pair');
  return (rankSum - (nSame * (nSame + 1)) / 2) / (nSame * nDiff);
}

/**
 * True accept rate at a false accept rate of at most `far`, with the threshold achieving it (the lowest
 * one whose FAR on these pairs does not exceed `far`). Undefined when there are fewer than 1/far different
 * pairs, where even one false accept overshoots and the estimate says nothing, or no same pairs at all.
 */
export function tarAtFar(scores: Scores, same: Labels, far: number): { tar: number; threshold: number } | undefined {
  check(scores, same, 'tarAtFar');
  if (!(far > 0 && far <= 1)) throw new RangeError(`tarAtFar: far must be in (0, 1], got ${far}`);
  const n = scores.length;
  let nDiff = 0;
  for (let i = 0; i < n; i++) if (!same[i]) nDiff++;
  const nSame = n - nDiff;
  // The epsilon keeps e.g. 0.001 × 3000 from rounding down to 2.
  const allowed = Math.floor(far * nDiff + 1e-9);
  if (allowed < 1 || nSame === 0) return undefined;
  if (allowed >= nDiff) return { tar: 1, threshold: Number.NEGATIVE_INFINITY };

  const diffScores = new Float64Array(nDiff);
  for (let i = 0, j = 0; i < n; i++) if (!same[i]) diffScores[j++] = scores[i]!;
  diffScores.sort();
  // Accept only scores above the (allowed+1)-th highest different score; ties at it are all rejected.
  const cut = diffScores[nDiff - 1 - allowed]!;
  let accepted = 0;
  let next = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    if (s > cut) {
      if (s < next) next = s;
      if (same[i]) accepted++;
    }
  }
  return { tar: accepted / nSame, threshold: next === Number.POSITIVE_INFINITY ? next : between(cut, next) };
}

/**
 * The standard LFW protocol: for each fold, pick the best threshold on all the other folds and measure
 * accuracy on the held-out fold. `std` is the population standard deviation of the per-fold accuracies
 * (numpy's default, as insightface and facenet report it). LFW's own "standard error" uses the sample
 * deviation over √folds; derive it from `foldAccuracies` if that is what a report needs.
 */
export function tenFold(
  scores: Scores,
  same: Labels,
  fold: ArrayLike<number>,
): { accuracy: number; std: number; thresholds: number[]; foldAccuracies: number[] } {
  check(scores, same, 'tenFold');
  const n = scores.length;
  if (fold.length !== n) throw new RangeError(`tenFold: ${n} scores but ${fold.length} fold labels`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(fold[i])) throw new RangeError(`tenFold: fold label ${i} is not finite (${fold[i]})`);
  }
  const folds = [...new Set(Array.from(fold))].sort((p, q) => p - q);
  if (folds.length < 2) throw new RangeError('tenFold: needs at least two folds');

  const thresholds: number[] = [];
  const foldAccuracies: number[] = [];
  for (const f of folds) {
    let testCount = 0;
    for (let i = 0; i < n; i++) if (fold[i] === f) testCount++;
    const train = new Uint32Array(n - testCount);
    const test = new Uint32Array(testCount);
    for (let i = 0, tr = 0, te = 0; i < n; i++) {
      if (fold[i] === f) test[te++] = i;
      else train[tr++] = i;
    }
    const { threshold } = bestThresholdOver(scores, same, train);
    thresholds.push(threshold);
    foldAccuracies.push(accuracyOver(scores, same, test, threshold));
  }
  const accuracy = foldAccuracies.reduce((s, a) => s + a, 0) / foldAccuracies.length;
  const variance = foldAccuracies.reduce((s, a) => s + (a - accuracy) ** 2, 0) / foldAccuracies.length;
  return { accuracy, std: Math.sqrt(variance), thresholds, foldAccuracies };
}
