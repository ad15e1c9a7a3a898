import { describe, expect, test } from 'vitest';
import { ImpostorTail } from './impostorTail.ts';
import { deriveOperatingPoint, FALLBACK_THRESHOLD, perPersonRate } from './operatingPoint.ts';

// A made-up tail: the score rises by 0.1 per decade of rarity.
const tail = new ImpostorTail([
  { rate: 1e-1, score: 0.2 },
  { rate: 1e-2, score: 0.3 },
  { rate: 1e-3, score: 0.4 },
  { rate: 1e-4, score: 0.5 },
]);

describe('ImpostorTail', () => {
  test('interpolates in log(rate) and extrapolates the last stretch', () => {
    expect(tail.scoreAt(1e-2)).toBeCloseTo(0.3, 9);
    expect(tail.scoreAt(10 ** -2.5)).toBeCloseTo(0.35, 9);
    expect(tail.scoreAt(1e-6)).toBeCloseTo(0.7, 9);
    expect(tail.scoreAt(0.5)).toBeLessThan(0.2);
  });

  test('from raw scores: the k-th highest score at rate k/n, down to minCount scores', () => {
    const scores = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const t = ImpostorTail.fromScores(scores, 10);
    expect(t.scoreAt(0.1)).toBeCloseTo(0.9, 2);
    expect(t.points.at(-1)).toEqual({ rate: 0.01, score: 0.99 });
    expect(() => ImpostorTail.fromScores([0.1, 0.2], 10)).toThrow(/too few/);
  });
});

describe('deriveOperatingPoint', () => {
  test('the per-person rate makes FPIR over N independent comparisons', () => {
    const p = perPersonRate(0.01, 100);
    expect(1 - (1 - p) ** 100).toBeCloseTo(0.01, 12);
    expect(perPersonRate(0.01, 1)).toBeCloseTo(0.01, 12);
  });

  test('a facebank whose top cross-person scores are all alike (one photo filed under several people) falls back to the calibration', () => {
    // 30 scores of 1: the same image under two names. There is no tail to read; deriving must not throw.
    const scores = [...Array.from({ length: 30 }, () => 1), ...Array.from({ length: 10 }, (_, i) => i / 100)];
    expect(ImpostorTail.fromScoresIfDistinct(scores, 10)).toBeUndefined();
    const op = deriveOperatingPoint({ fpir: 0.01, people: 5, calibration: tail, impostorScores: scores });
    expect(op.source).toBe('calibration');
    const none = deriveOperatingPoint({ fpir: 0.01, people: 5, impostorScores: scores });
    expect(none).toMatchObject({ source: 'fallback', threshold: FALLBACK_THRESHOLD });
    expect(none.reason).toMatch(/too alike/);
  });

  test('the threshold rises with the number of people, from the calibration', () => {
    const at = (people: number) =>
      deriveOperatingPoint({ fpir: 0.01, people, calibration: tail, impostorScores: [] }).threshold;
    expect(at(1)).toBeCloseTo(0.3, 6);
    expect(at(10)).toBeCloseTo(tail.scoreAt(perPersonRate(0.01, 10)), 9);
    expect(at(10)).toBeGreaterThan(at(1));
    expect(at(1000)).toBeGreaterThan(at(10));
    const op = deriveOperatingPoint({ fpir: 0.01, people: 10, calibration: tail, impostorScores: [] });
    expect(op).toMatchObject({ source: 'calibration', fpir: 0.01, people: 10 });
    expect(op.reason).toBe("FPIR 1% at 10 people: the model's calibration");
  });

  test('an override wins; the facebank decides when stricter and well sampled; else the fallback', () => {
    expect(deriveOperatingPoint({ override: 0.5, fpir: 0.01, people: 3, impostorScores: [] })).toMatchObject({
      threshold: 0.5,
      source: 'override',
    });
    // 100,000 own scores uniform in [0, 0.9): at rate 1e-3 (FPIR 1%, 10 people) 100 lie beyond 0.8991.
    const own = Array.from({ length: 100_000 }, (_, i) => (0.9 * i) / 100_000);
    const strict = deriveOperatingPoint({ fpir: 0.01, people: 10, calibration: tail, impostorScores: own });
    expect(strict.source).toBe('facebank');
    expect(strict.threshold).toBeCloseTo(0.899, 3);
    const low = own.map((s) => s / 10);
    expect(deriveOperatingPoint({ fpir: 0.01, people: 10, calibration: tail, impostorScores: low }).source).toBe(
      'calibration',
    );
    const none = deriveOperatingPoint({ fpir: 0.01, people: 10, impostorScores: own });
    expect(none.source).toBe('facebank');
    expect(none.reason).toMatch(/no calibration/);
    expect(deriveOperatingPoint({ fpir: 0.01, people: 1, impostorScores: [] })).toMatchObject({
      threshold: FALLBACK_THRESHOLD,
      source: 'fallback',
      reason: expect.stringMatching(/too few people/),
    });
  });
});
