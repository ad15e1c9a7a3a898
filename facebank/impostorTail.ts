// The upper tail of the impostor score distribution: how often a face scores at least t against one person
// who is not them. The operating point (operatingPoint.ts) needs it far out in the tail (about FPIR / N), so
// it is kept as a table of (rate, score) points, interpolated in log(rate), and extended past its last point
// by the exponential decay of its last stretch.

export interface TailPoint {
  /** P(score ≥ score) for one face against one other person, in (0, 1]. */
  rate: number;
  score: number;
}

export class ImpostorTail {
  /** Rates strictly decreasing, scores strictly increasing. */
  readonly points: readonly TailPoint[];

  constructor(points: readonly TailPoint[]) {
    const clean = distinctPoints(points);
    if (clean.length < 2) throw new Error('an impostor tail needs at least two distinct points');
    this.points = clean;
  }

  /** The score reached by a fraction `rate` of impostor comparisons (extrapolated beyond the table). */
  scoreAt(rate: number): number {
    const pts = this.points;
    const lr = Math.log(rate);
    let i = 1;
    while (i < pts.length - 1 && pts[i]!.rate > rate) i++;
    if (rate >= pts[0]!.rate) i = 1;
    const a = pts[i - 1]!;
    const b = pts[i]!;
    const la = Math.log(a.rate);
    const lb = Math.log(b.rate);
    return a.score + ((lr - la) / (lb - la)) * (b.score - a.score);
  }

  /**
   * From raw impostor scores: the empirical tail at log-spaced rates down to the rate reached by the
   * `minCount`-th highest score (rarer rates are extrapolated, not read off a handful of samples).
   */
  static fromScores(scores: ArrayLike<number>, minCount = 10, perDecade = 4): ImpostorTail {
    return new ImpostorTail(tailPoints(scores, minCount, perDecade));
  }

  /**
   * `fromScores`, or undefined when the top scores are all alike (e.g. the same photo filed under several
   * people: every such pair scores 1), which leaves no tail to read.
   */
  static fromScoresIfDistinct(scores: ArrayLike<number>, minCount = 10, perDecade = 4): ImpostorTail | undefined {
    const points = tailPoints(scores, minCount, perDecade);
    return distinctPoints(points).length < 2 ? undefined : new ImpostorTail(points);
  }
}

/** Rates strictly decreasing with scores strictly increasing: the points a tail can interpolate. */
function distinctPoints(points: readonly TailPoint[]): TailPoint[] {
  const sorted = [...points].filter((p) => p.rate > 0 && p.rate <= 1).sort((a, b) => b.rate - a.rate);
  const clean: TailPoint[] = [];
  for (const p of sorted) {
    const last = clean[clean.length - 1];
    if (last === undefined || (p.rate < last.rate && p.score > last.score)) clean.push(p);
  }
  return clean;
}

function tailPoints(scores: ArrayLike<number>, minCount: number, perDecade: number): TailPoint[] {
  const sorted = Float64Array.from(scores).sort().reverse();
  const n = sorted.length;
  if (n < 2 * minCount) throw new Error(`${n} impostor scores are too few for a tail (at least ${2 * minCount})`);
  const points: TailPoint[] = [];
  const lowest = minCount / n;
  for (let k = 0; ; k++) {
    const rate = 0.5 * 10 ** (-k / perDecade);
    if (rate < lowest) break;
    points.push({ rate, score: sorted[Math.max(0, Math.ceil(rate * n) - 1)]! });
  }
  points.push({ rate: lowest, score: sorted[minCount - 1]! });
  return points;
}
