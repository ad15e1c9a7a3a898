// The operating point: the cosine threshold at which a face is named, derived from the rate of false names
// the user accepts (FPIR: the fraction of strangers, people not in the facebank, given some name) and the
// number of people N in the facebank. A stranger is compared with all N people, so if one comparison passes
// with probability p, some name is given with probability 1 − (1 − p)^N: the threshold is the score that
// impostor comparisons reach with p = 1 − (1 − FPIR)^(1/N), read off the tail of the impostor distribution.
// That tail comes from the model's calibration (committed, measured on the LFW dev split) and from the
// facebank's own cross-person scores where they are plentiful enough to read it without extrapolating; the
// stricter of the two wins. An explicit threshold overrides all of it.
import { ImpostorTail } from './impostorTail.ts';

/** Used only when no impostor scores exist at all: no calibration for the model and fewer than 2 people. */
export const FALLBACK_THRESHOLD = 0.4;
/** Own cross-person scores read at a rate only when at least this many of them lie beyond it. */
export const MIN_TAIL_COUNT = 10;

export type ThresholdSource = 'override' | 'calibration' | 'facebank' | 'fallback';

export interface OperatingPoint {
  threshold: number;
  source: ThresholdSource;
  /** The target rate of false names (absent for an override). */
  fpir?: number;
  people: number;
  /** In plain words, for the log and /api/health. */
  reason: string;
}

export interface OperatingPointInput {
  /** MATCH_THRESHOLD, when set: wins. */
  override?: number | undefined;
  fpir: number;
  people: number;
  /** The model's committed calibration, when there is one. */
  calibration?: ImpostorTail | undefined;
  /** The facebank's own images against the other people's templates (Matcher.impostorScores). */
  impostorScores: ArrayLike<number>;
}

/** The per-comparison rate that gives `fpir` over `people` independent comparisons. */
export function perPersonRate(fpir: number, people: number): number {
  return -Math.expm1(Math.log1p(-fpir) / Math.max(1, people));
}

const pct = (x: number) => `${Number((x * 100).toPrecision(3))}%`;
const fmt = (x: number) => x.toFixed(3);

export function deriveOperatingPoint(i: OperatingPointInput): OperatingPoint {
  const { people, fpir } = i;
  if (i.override !== undefined) {
    return { threshold: i.override, source: 'override', people, reason: `MATCH_THRESHOLD ${i.override} (set)` };
  }
  const rate = perPersonRate(fpir, people);
  const n = i.impostorScores.length;
  const own = n >= 2 * MIN_TAIL_COUNT ? ImpostorTail.fromScoresIfDistinct(i.impostorScores, MIN_TAIL_COUNT) : undefined;
  // Read without extrapolating: enough of the facebank's own scores lie beyond this rate.
  const ownSupported = own !== undefined && rate * n >= MIN_TAIL_COUNT;
  const fromCalibration = i.calibration?.scoreAt(rate);
  const fromOwn = own?.scoreAt(rate);
  const target = `FPIR ${pct(fpir)} at ${people} ${people === 1 ? 'person' : 'people'}`;
  if (fromCalibration !== undefined) {
    if (ownSupported && fromOwn! > fromCalibration) {
      const reason = `${target}: the facebank's own ${n} cross-person scores (stricter than the model's calibration, ${fmt(fromCalibration)})`;
      return { threshold: fromOwn!, source: 'facebank', fpir, people, reason };
    }
    return {
      threshold: fromCalibration,
      source: 'calibration',
      fpir,
      people,
      reason: `${target}: the model's calibration`,
    };
  }
  if (fromOwn !== undefined) {
    const how = ownSupported ? '' : ', extrapolated (few people: add people or set MATCH_THRESHOLD)';
    return {
      threshold: fromOwn,
      source: 'facebank',
      fpir,
      people,
      reason: `${target}: the facebank's own ${n} cross-person scores (no calibration for this model${how})`,
    };
  }
  return {
    threshold: FALLBACK_THRESHOLD,
    source: 'fallback',
    fpir,
    people,
    reason:
      n >= 2 * MIN_TAIL_COUNT
        ? `no calibration for this model, and the facebank's ${n} cross-person scores are too alike to measure a tail (the same photo enrolled under several names?): ${FALLBACK_THRESHOLD}`
        : `no calibration for this model and too few people to measure impostor scores: ${FALLBACK_THRESHOLD}`,
  };
}
