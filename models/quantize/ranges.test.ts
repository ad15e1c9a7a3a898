import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/random.ts';
import { RangeCollector, rangesOf } from './ranges.ts';

describe('RangeCollector', () => {
  it('gives min/max exactly and percentile ranges to within a bin (±4.4%), over several batches', () => {
    const next = seededRandom(7);
    const c = new RangeCollector();
    // 10^6 values uniform in [-2, 6] with 10 outliers at -100 and 10 at +100: 99.99% leaves 50 values out on each
    // side (the outliers and 40 more), 99.999% only 5 (outliers all).
    for (let batch = 0; batch < 10; batch++) {
      const values = Float32Array.from({ length: 100_000 }, () => -2 + 8 * next());
      values[0] = -100;
      values[1] = 100;
      c.add('t', values);
    }
    const stats = c.result().t!;
    expect(stats.min).toBe(-100);
    expect(stats.max).toBe(100);
    const [lo, hi] = rangesOf({ t: stats }, 'p99.99').t!;
    expect(lo).toBeGreaterThan(-2 * 1.045);
    expect(lo).toBeLessThan(-2 * 0.955);
    expect(hi).toBeGreaterThan(6 * 0.955);
    expect(hi).toBeLessThan(6 * 1.045);
    expect(rangesOf({ t: stats }, 'minmax').t).toEqual([-100, 100]);
    const [lo5, hi5] = rangesOf({ t: stats }, 'p99.999').t!;
    expect(lo5).toBeLessThan(-100 * 0.955);
    expect(hi5).toBeGreaterThan(100 * 0.955);
  });

  it('never reaches past the values seen', () => {
    const c = new RangeCollector();
    c.add('t', Float32Array.of(0.5, 0.75, 1));
    const [lo, hi] = rangesOf(c.result(), 'p99.999').t!;
    expect(lo).toBeGreaterThanOrEqual(0.5);
    expect(hi).toBeLessThanOrEqual(1);
  });
});
