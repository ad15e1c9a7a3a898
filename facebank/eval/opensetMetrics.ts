// Open-set identification rates from decision scores: DIR (probes of enrolled people named correctly) and
// FPIR (strangers given any name) at a threshold, and the threshold that keeps FPIR at or under a target.

export interface ProbeOutcome {
  /** Whether the best candidate is the probe's own identity. */
  correct: boolean;
  /** The decision score of the best candidate; -Infinity when no face was found (never named). */
  score: number;
}

export interface Rates {
  threshold: number;
  dir: number;
  fpir: number;
  /** Counts behind the rates. */
  named: number;
  probes: number;
  falseNames: number;
  strangers: number;
}

export function ratesAt(probes: readonly ProbeOutcome[], strangers: readonly number[], threshold: number): Rates {
  let named = 0;
  for (const p of probes) if (p.correct && p.score >= threshold) named++;
  let falseNames = 0;
  for (const s of strangers) if (s >= threshold) falseNames++;
  return {
    threshold,
    dir: probes.length ? named / probes.length : 0,
    fpir: strangers.length ? falseNames / strangers.length : 0,
    named,
    probes: probes.length,
    falseNames,
    strangers: strangers.length,
  };
}

/**
 * The lowest threshold at which at most `floor(fpir × strangers)` strangers reach it: just above the
 * (k+1)-th highest stranger score.
 */
export function thresholdForFpir(strangers: readonly number[], fpir: number): number {
  const sorted = Float64Array.from(strangers).sort().reverse();
  const k = Math.floor(fpir * sorted.length + 1e-9);
  if (k >= sorted.length) return Number.NEGATIVE_INFINITY;
  const s = sorted[k]!;
  if (!Number.isFinite(s)) return s;
  // The next representable double above s.
  return s + Math.max(Math.abs(s) * Number.EPSILON, Number.MIN_VALUE);
}

export function ratesAtFpir(probes: readonly ProbeOutcome[], strangers: readonly number[], fpir: number): Rates {
  return ratesAt(probes, strangers, thresholdForFpir(strangers, fpir));
}
