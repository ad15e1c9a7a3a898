// The templates the open-set scripts build outside the facebank: unweighted as the Matcher builds them, and
// weighted for the quality-weighted variant of scripts/measure-scores.ts.
import { describe, expect, it } from 'vitest';
import { Matcher } from '../matcher.ts';
import { normalisedMean } from './openset.ts';

const a = Float32Array.from([0.6, 0.8, 0]);
const b = Float32Array.from([0, 0.6, 0.8]);

describe('normalisedMean', () => {
  it("is the Matcher's template when unweighted", () => {
    const m = new Matcher([
      { person: 'x', embedding: a },
      { person: 'x', embedding: b },
    ]);
    const t = normalisedMean([a, b]);
    for (let k = 0; k < 3; k++) expect(t[k]).toBeCloseTo(m.matrix[k]!, 6);
    expect(Math.hypot(...t)).toBeCloseTo(1, 6);
  });

  it('leans towards the heavier embedding, and a zero weight leaves one out', () => {
    const even = normalisedMean([a, b], [1, 1]);
    const heavy = normalisedMean([a, b], [3, 1]);
    const dot = (u: Float32Array, v: Float32Array) => u.reduce((s, x, k) => s + x * v[k]!, 0);
    expect(dot(heavy, a)).toBeGreaterThan(dot(even, a));
    expect([...normalisedMean([a, b], [0, 2])]).toEqual([...b]);
  });
});
