import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/random.ts';
import {
  accuracyAt,
  bestThreshold,
  lfwImagePath,
  PairsFormatError,
  parsePairs,
  rocAuc,
  tarAtFar,
  tenFold,
} from './verification.ts';

const rng = seededRandom;

/** Random scores on a coarse grid so ties are common. */
function randomSet(rand: () => number, n: number): { scores: number[]; same: boolean[] } {
  const same = Array.from({ length: n }, () => rand() < 0.5);
  const scores = same.map((s) => Math.round((rand() + (s ? 0.3 : 0)) * 20) / 20);
  return { scores, same };
}

describe('parsePairs', () => {
  it('parses View 2 with folds, tabs and CRLF', () => {
    const text = [
      '2\t2',
      'Abel_Pacheco\t1\t4',
      'Akhmed_Zakayev\t1\t3',
      'AJ_Cook\t1\tMarsha_Thomason\t1',
      'Aaron_Sorkin\t2\tFrank_Keating\t1',
      'Zico\t1\t3',
      'Zoran_Djindjic\t3\t4',
      'Zhu_Rongji\t2\tZico\t10',
      'Zach_Pillar\t1\tZulfiqar_Ahmed\t1',
      '',
    ].join('\r\n');
    const pairs = parsePairs(text);
    expect(pairs).toHaveLength(8);
    expect(pairs.map((p) => p.fold)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(pairs.map((p) => p.same)).toEqual([true, true, false, false, true, true, false, false]);
    expect(pairs[0]).toEqual({
      a: { name: 'Abel_Pacheco', index: 1 },
      b: { name: 'Abel_Pacheco', index: 4 },
      same: true,
      fold: 0,
    });
    expect(pairs[6]).toEqual({
      a: { name: 'Zhu_Rongji', index: 2 },
      b: { name: 'Zico', index: 10 },
      same: false,
      fold: 1,
    });
  });

  it('parses View 1 (single count) with every pair in fold 0', () => {
    const pairs = parsePairs('2\nA 1 2\nB 3 4\nA 1 B 2\nC 5 D 6\n');
    expect(pairs.map((p) => [p.same, p.fold])).toEqual([
      [true, 0],
      [true, 0],
      [false, 0],
      [false, 0],
    ]);
  });

  it('accepts files without a header, in any order', () => {
    const pairs = parsePairs('  A 1 B 2  \n\nC 3 4');
    expect(pairs.map((p) => p.same)).toEqual([false, true]);
    expect(pairs[1]!.b).toEqual({ name: 'C', index: 4 });
  });

  it('rejects files that disagree with their header or are malformed', () => {
    expect(() => parsePairs('1 2\nA 1 2\nB 1 2\nA 1 B 1')).toThrow(/promises/);
    expect(() => parsePairs('1 2\nA 1 2\nA 1 B 1\nB 1 2\nC 1 D 1')).toThrow(/layout/);
    expect(() => parsePairs('A 1 2 3 4')).toThrow(PairsFormatError);
    expect(() => parsePairs('A 1')).toThrow(/fields/);
    expect(() => parsePairs('A x 2')).toThrow(/positive integer/);
    expect(() => parsePairs('A 0 2')).toThrow(/positive integer/);
    expect(() => parsePairs('A 1 2\n10 300')).toThrow(/fields/);
    expect(() => parsePairs('0 300')).toThrow(/positive/);
  });
});

describe('lfwImagePath', () => {
  it('zero-pads the image number to four digits', () => {
    expect(lfwImagePath('Abel_Pacheco', 1)).toBe('Abel_Pacheco/Abel_Pacheco_0001.jpg');
    expect(lfwImagePath('George_W_Bush', 530)).toBe('George_W_Bush/George_W_Bush_0530.jpg');
  });
});

describe('accuracyAt', () => {
  it('predicts same when score >= threshold', () => {
    expect(accuracyAt([0.1, 0.5, 0.9], [false, true, true], 0.5)).toBe(1);
    expect(accuracyAt([0.1, 0.5, 0.9], [false, true, true], 0.6)).toBeCloseTo(2 / 3, 12);
    expect(accuracyAt(new Float64Array([0.1, 0.5]), [false, true], Number.NEGATIVE_INFINITY)).toBe(0.5);
  });

  it('rejects mismatched lengths, empty input and non-finite scores', () => {
    expect(() => accuracyAt([1, 2], [true], 0)).toThrow(RangeError);
    expect(() => accuracyAt([], [], 0)).toThrow(RangeError);
    expect(() => accuracyAt([Number.NaN], [true], 0)).toThrow(/finite/);
  });
});

describe('bestThreshold', () => {
  it('separates perfectly separable data at the midpoint of the gap', () => {
    expect(bestThreshold([0.9, 0.1, 0.8, 0.2], [true, false, true, false])).toEqual({ threshold: 0.5, accuracy: 1 });
  });

  it('works out a hand example, preferring the lowest of equally good thresholds', () => {
    // Thresholds -∞, 1.5, 2.5, 3.5, … score 4, 5, 4, 5, … correct of 6.
    expect(bestThreshold([1, 2, 3, 4, 5, 6], [false, true, false, true, true, true])).toEqual({
      threshold: 1.5,
      accuracy: 5 / 6,
    });
  });

  it('returns ±Infinity when one class should take everything', () => {
    expect(bestThreshold([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toEqual({
      threshold: Number.NEGATIVE_INFINITY,
      accuracy: 0.5,
    });
    expect(bestThreshold([3, 1, 2], [false, false, true])).toEqual({ threshold: 1.5, accuracy: 2 / 3 });
    expect(bestThreshold([1, 2, 3], [false, false, false])).toEqual({
      threshold: Number.POSITIVE_INFINITY,
      accuracy: 1,
    });
    expect(bestThreshold([1, 2, 3], [true, true, true]).threshold).toBe(Number.NEGATIVE_INFINITY);
  });

  it('never splits tied scores', () => {
    expect(bestThreshold([1, 1, 2, 2], [false, true, false, true])).toEqual({
      threshold: Number.NEGATIVE_INFINITY,
      accuracy: 0.5,
    });
  });

  it('agrees with exhaustive search and its reported accuracy is attained', () => {
    const rand = rng(7);
    for (let trial = 0; trial < 30; trial++) {
      const { scores, same } = randomSet(rand, 5 + Math.floor(rand() * 60));
      const before = [...scores];
      const got = bestThreshold(scores, same);
      expect(scores).toEqual(before);
      const candidates = [...new Set(scores)].flatMap((s) => [s, s + 1e-6]);
      const exhaustive = Math.max(...candidates.map((t) => accuracyAt(scores, same, t)));
      expect(got.accuracy).toBeCloseTo(exhaustive, 12);
      expect(accuracyAt(scores, same, got.threshold)).toBeCloseTo(got.accuracy, 12);
    }
  });
});

describe('rocAuc', () => {
  it('is 1 for separable, 0 for reversed and 0.5 for all-tied scores', () => {
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [true, true, false, false])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [true, false, true, false])).toBe(0.5);
  });

  it('works out hand examples, counting ties as one half', () => {
    // Same {0.8, 0.4} vs different {0.5, 0.1}: 3 of 4 orderings right.
    expect(rocAuc([0.8, 0.4, 0.5, 0.1], [true, true, false, false])).toBe(0.75);
    // Same {0.5} vs different {0.5, 0.2}: (½ + 1) / 2.
    expect(rocAuc([0.5, 0.5, 0.2], [true, false, false])).toBe(0.75);
  });

  it('equals the pairwise count on random data with ties', () => {
    const rand = rng(8);
    for (let trial = 0; trial < 30; trial++) {
      const { scores, same } = randomSet(rand, 10 + Math.floor(rand() * 50));
      if (!same.includes(true) || !same.includes(false)) continue;
      let wins = 0;
      let total = 0;
      for (let i = 0; i < scores.length; i++) {
        for (let j = 0; j < scores.length; j++) {
          if (!same[i] || same[j]) continue;
          total++;
          wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
      }
      expect(rocAuc(scores, same)).toBeCloseTo(wins / total, 12);
    }
  });

  it('needs both classes', () => {
    expect(() => rocAuc([1, 2], [true, true])).toThrow(RangeError);
  });
});

describe('tarAtFar', () => {
  const diffScores = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const sameScores = [0.95, 0.85, 0.75, 0.5];
  const scores = [...diffScores, ...sameScores];
  const same = [...diffScores.map(() => false), ...sameScores.map(() => true)];

  it('allows floor(far · different) false accepts and reports the threshold', () => {
    // One false accept allowed: reject 0.8 and below, accept 0.9 (false), 0.95 and 0.85 (true).
    const r = tarAtFar(scores, same, 0.1)!;
    expect(r.tar).toBe(0.5);
    expect(r.threshold).toBeCloseTo(0.825, 12);
    const r3 = tarAtFar(scores, same, 0.3)!;
    expect(r3.tar).toBe(0.75);
    expect(r3.threshold).toBeCloseTo(0.65, 12);
  });

  it('is undefined with fewer than 1/far different pairs or no same pairs', () => {
    expect(tarAtFar(scores, same, 0.05)).toBeUndefined();
    expect(tarAtFar(scores, same, 0.099)).toBeUndefined();
    expect(
      tarAtFar(
        diffScores,
        diffScores.map(() => false),
        0.5,
      ),
    ).toBeUndefined();
    const many = Array.from({ length: 1000 }, (_, i) => i / 1000);
    const r = tarAtFar([...many, 2], [...many.map(() => false), true], 0.001)!;
    expect(r.tar).toBe(1);
    expect(r.threshold).toBeCloseTo(0.9985, 12);
  });

  it('rejects all different pairs tied at the cut rather than exceed the FAR', () => {
    const r = tarAtFar([0.9, 0.9, 0.1, 0.1, 0.95, 0.5], [false, false, false, false, true, true], 0.25)!;
    expect(r.tar).toBe(0.5);
    expect(r.threshold).toBeCloseTo(0.925, 12);
  });

  it('accepts everything when far is 1, and nothing is above the top different score', () => {
    expect(tarAtFar(scores, same, 1)).toEqual({ tar: 1, threshold: Number.NEGATIVE_INFINITY });
    expect(tarAtFar([0.9, 0.9, 0.5], [false, false, true], 0.5)).toEqual({
      tar: 0,
      threshold: Number.POSITIVE_INFINITY,
    });
    expect(() => tarAtFar(scores, same, 0)).toThrow(RangeError);
  });

  it('gives the best TAR whose FAR stays within bounds, on random data', () => {
    const rand = rng(9);
    for (let trial = 0; trial < 30; trial++) {
      const { scores: s, same: y } = randomSet(rand, 40 + Math.floor(rand() * 80));
      const far = [0.05, 0.1, 0.2][trial % 3]!;
      const r = tarAtFar(s, y, far);
      const nDiff = y.filter((v) => !v).length;
      const nSame = y.length - nDiff;
      if (nDiff < 1 / far || nSame === 0) {
        expect(r).toBeUndefined();
        continue;
      }
      const rates = (t: number) => {
        let fa = 0;
        let ta = 0;
        s.forEach((v, i) => {
          if (v >= t) y[i] ? ta++ : fa++;
        });
        return { far: fa / nDiff, tar: ta / nSame };
      };
      expect(r).toBeDefined();
      expect(rates(r!.threshold).far).toBeLessThanOrEqual(far);
      expect(rates(r!.threshold).tar).toBeCloseTo(r!.tar, 12);
      for (const t of new Set(s)) {
        const at = rates(t);
        if (at.far <= far) expect(at.tar).toBeLessThanOrEqual(r!.tar);
      }
    }
  });
});

describe('tenFold', () => {
  function tenFoldSet(perFold: (f: number) => { same: number[]; diff: number[] }) {
    const scores: number[] = [];
    const same: boolean[] = [];
    const fold: number[] = [];
    for (let f = 0; f < 10; f++) {
      const { same: s, diff: d } = perFold(f);
      for (const [values, label] of [
        [s, true],
        [d, false],
      ] as const) {
        for (const v of values) {
          scores.push(v);
          same.push(label);
          fold.push(f);
        }
      }
    }
    return { scores, same, fold };
  }

  it('scores a separable set at 100% with zero spread', () => {
    const { scores, same, fold } = tenFoldSet(() => ({ same: [0.7, 0.8], diff: [0.2, 0.3] }));
    const r = tenFold(scores, same, fold);
    expect(r.accuracy).toBe(1);
    expect(r.std).toBe(0);
    expect(r.thresholds).toEqual(Array(10).fill(0.5));
  });

  it('works out a hand example with one bad pair', () => {
    // Fold 0 has a same pair at 0.1. Every threshold still lands at 0.5; only fold 0 loses a pair.
    const { scores, same, fold } = tenFoldSet((f) => ({ same: f === 0 ? [0.7, 0.1] : [0.7, 0.8], diff: [0.2, 0.3] }));
    const r = tenFold(scores, same, fold);
    expect(r.thresholds).toEqual(Array(10).fill(0.5));
    expect(r.foldAccuracies).toEqual([0.75, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    expect(r.accuracy).toBeCloseTo(0.975, 12);
    // Population std: sqrt((9·0.025² + 0.225²) / 10).
    expect(r.std).toBeCloseTo(0.075, 12);
  });

  it('never picks a fold threshold from that fold’s own pairs', () => {
    // Fold 3 lives at a different score range; held out, it gets the others' threshold and fails half.
    const { scores, same, fold } = tenFoldSet((f) =>
      f === 3 ? { same: [0.96, 0.95], diff: [0.9, 0.91] } : { same: [0.7, 0.8], diff: [0.2, 0.3] },
    );
    const r = tenFold(scores, same, fold);
    expect(r.thresholds[3]).toBe(0.5);
    expect(r.foldAccuracies[3]).toBe(0.5);
    expect(r.accuracy).toBeCloseTo(0.95, 12);
  });

  it('runs on folds from a parsed View 2 file', () => {
    const lines = ['10 1'];
    for (let f = 0; f < 10; f++) lines.push(`P${f} 1 2`, `P${f} 1 Q${f} 1`);
    const pairs = parsePairs(lines.join('\n'));
    const scores = pairs.map((p) => (p.same ? 0.6 : 0.4));
    const r = tenFold(
      scores,
      pairs.map((p) => p.same),
      pairs.map((p) => p.fold),
    );
    expect(r.accuracy).toBe(1);
    expect(r.thresholds).toHaveLength(10);
  });

  it('needs at least two folds and matching lengths', () => {
    expect(() => tenFold([1, 2], [true, false], [0, 0])).toThrow(/two folds/);
    expect(() => tenFold([1, 2], [true, false], [0])).toThrow(RangeError);
    expect(() => tenFold([1, 2], [true, false], [0, Number.NaN])).toThrow(/finite/);
  });
});
