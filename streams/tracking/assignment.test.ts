import { describe, expect, test } from 'vitest';
import { Assignment } from './assignment.ts';

describe('Assignment', () => {
  function brute(cost: number[][], rows: number, cols: number): number {
    let best = Number.POSITIVE_INFINITY;
    const usedCols = new Set<number>();
    const go = (r: number, sum: number, assigned: number) => {
      if (r === rows) {
        if (assigned === Math.min(rows, cols)) best = Math.min(best, sum);
        return;
      }
      if (rows - r > cols - usedCols.size) go(r + 1, sum, assigned);
      for (let c = 0; c < cols; c++) {
        if (usedCols.has(c)) continue;
        usedCols.add(c);
        go(r + 1, sum + cost[r]![c]!, assigned + 1);
        usedCols.delete(c);
      }
      if (rows - r <= cols - usedCols.size) go(r + 1, sum, assigned);
    };
    go(0, 0, 0);
    return best;
  }

  test('matches brute force on random rectangular matrices', () => {
    const a = new Assignment();
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(rand() * 5);
      const cols = 1 + Math.floor(rand() * 5);
      const cost = Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.round(rand() * 100)));
      const out = new Int32Array(rows);
      a.solve(Float64Array.from(cost.flat()), rows, cols, out);
      const cols_ = [...out].filter((c) => c >= 0);
      expect(cols_).toHaveLength(Math.min(rows, cols));
      expect(new Set(cols_).size).toBe(cols_.length);
      const sum = [...out].reduce((s, c, r) => (c >= 0 ? s + cost[r]![c]! : s), 0);
      expect(sum).toBe(brute(cost, rows, cols));
    }
  });
});
