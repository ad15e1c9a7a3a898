// Sliding-window statistics for camera health: rates and lag percentiles.

/** The nearest-rank percentile `q` (0–1) of ascending `sorted` values, rounded; 0 when there are none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!);
}

/** Events per second over the last `windowMs`. */
export class RateWindow {
  private readonly times: number[] = [];
  private readonly since: number;

  constructor(
    private readonly windowMs = 5000,
    now = Date.now(),
  ) {
    this.since = now;
  }

  add(now: number): void {
    this.times.push(now);
    this.evict(now);
  }

  rate(now: number): number {
    this.evict(now);
    const span = Math.min(this.windowMs, Math.max(1000, now - this.since));
    return round1((this.times.length * 1000) / span);
  }

  private evict(now: number): void {
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! <= now - this.windowMs) drop++;
    if (drop > 0) this.times.splice(0, drop);
  }
}

/** Percentiles of values recorded over the last `windowMs` (at most `max` values). */
export class LagWindow {
  private readonly samples: { at: number; value: number }[] = [];

  constructor(
    private readonly windowMs = 10_000,
    private readonly max = 600,
  ) {}

  add(now: number, value: number): void {
    this.samples.push({ at: now, value });
    if (this.samples.length > this.max) this.samples.shift();
  }

  percentiles(now: number): { p50: number; p95: number } {
    let drop = 0;
    while (drop < this.samples.length && this.samples[drop]!.at <= now - this.windowMs) drop++;
    if (drop > 0) this.samples.splice(0, drop);
    if (this.samples.length === 0) return { p50: 0, p95: 0 };
    const sorted = this.samples.map((s) => s.value).sort((a, b) => a - b);
    return { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
