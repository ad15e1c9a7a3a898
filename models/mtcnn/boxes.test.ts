import { describe, expect, it } from 'vitest';
import { area, calibrate, clipToImage, iom, iou, nms, type ScoredBox, square } from './boxes.ts';

const box = (x1: number, y1: number, x2: number, y2: number, score = 1): ScoredBox => ({ x1, y1, x2, y2, score });

describe('area / iou / iom', () => {
  it('uses continuous areas', () => {
    expect(area(box(0, 0, 10, 5))).toBe(50);
    expect(area(box(3, 3, 3, 9))).toBe(0);
    expect(area(box(5, 5, 2, 9))).toBe(0);
  });

  it('computes IoU by hand', () => {
    // 10×10 boxes overlapping in a 5×10 strip: 50 / (100 + 100 − 50).
    expect(iou(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(1 / 3, 12);
    expect(iou(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
    expect(iou(box(0, 0, 10, 10), box(2, 2, 4, 4))).toBeCloseTo(4 / 100, 12);
  });

  it('is 0 for disjoint, touching or empty boxes', () => {
    expect(iou(box(0, 0, 10, 10), box(20, 20, 30, 30))).toBe(0);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0);
    expect(iou(box(1, 1, 1, 1), box(1, 1, 1, 1))).toBe(0);
    expect(iom(box(0, 0, 10, 10), box(3, 3, 3, 8))).toBe(0);
  });

  it('is symmetric', () => {
    const a = box(1, 2, 13, 9);
    const b = box(4, -3, 8, 20);
    expect(iou(a, b)).toBe(iou(b, a));
    expect(iom(a, b)).toBe(iom(b, a));
  });

  it('iom divides by the smaller area', () => {
    expect(iom(box(0, 0, 10, 10), box(2, 2, 4, 4))).toBe(1);
    expect(iom(box(0, 0, 10, 10), box(8, 0, 12, 10))).toBeCloseTo(20 / 40, 12);
  });
});

describe('nms', () => {
  it('keeps the highest-scoring box of a cluster and returns indices by descending score', () => {
    const boxes = [
      box(1, 1, 11, 11, 0.8),
      box(0, 0, 10, 10, 0.95),
      box(50, 50, 60, 60, 0.7),
      box(2, 0, 12, 10, 0.9),
      box(51, 51, 61, 61, 0.99),
    ];
    expect(nms(boxes, 0.5, 'union')).toEqual([4, 1]);
  });

  it('suppresses only overlap strictly above the threshold', () => {
    // IoU exactly 1/3.
    const boxes = [box(0, 0, 10, 10, 0.9), box(5, 0, 15, 10, 0.8)];
    expect(nms(boxes, 1 / 3, 'union')).toEqual([0, 1]);
    expect(nms(boxes, 0.33, 'union')).toEqual([0]);
  });

  it("'min' removes a box nested inside a stronger one that 'union' keeps", () => {
    const boxes = [box(0, 0, 100, 100, 0.9), box(10, 10, 40, 40, 0.8)];
    // IoU = 900 / 10000 = 0.09, intersection over min = 1.
    expect(nms(boxes, 0.7, 'union')).toEqual([0, 1]);
    expect(nms(boxes, 0.7, 'min')).toEqual([0]);
  });

  it('suppression is greedy: a suppressed box does not suppress others', () => {
    // B overlaps A and C heavily; A and C barely overlap. A wins, removes B, so C survives.
    const boxes = [box(0, 0, 10, 10, 0.9), box(4, 0, 14, 10, 0.8), box(8, 0, 18, 10, 0.7)];
    expect(iou(boxes[0]!, boxes[1]!)).toBeGreaterThan(0.4);
    expect(iou(boxes[1]!, boxes[2]!)).toBeGreaterThan(0.4);
    expect(nms(boxes, 0.4, 'union')).toEqual([0, 2]);
  });

  it('keeps input order among equal scores and handles empty input', () => {
    const boxes = [box(0, 0, 10, 10, 0.5), box(0, 0, 10, 10, 0.5), box(30, 30, 40, 40, 0.5)];
    expect(nms(boxes, 0.5, 'union')).toEqual([0, 2]);
    expect(nms([], 0.5, 'min')).toEqual([]);
  });

  it('with threshold 1 nothing is suppressed, with threshold 0 any overlap is', () => {
    const boxes = [box(0, 0, 10, 10, 0.1), box(0, 0, 10, 10, 0.3), box(9, 9, 20, 20, 0.2)];
    expect(nms(boxes, 1, 'union')).toEqual([1, 2, 0]);
    expect(nms(boxes, 0, 'union')).toEqual([1]);
  });
});

describe('calibrate', () => {
  it('moves each edge by its offset times width or height', () => {
    const out = calibrate(box(10, 20, 30, 60, 0.7), [0.1, -0.25, 0.5, 0]);
    expect(out).toEqual({ x1: 12, y1: 10, x2: 40, y2: 60, score: 0.7 });
  });

  it('is the identity for zero offsets and copies extra fields', () => {
    const b = { ...box(1, 2, 3, 4), landmarks: [1, 2] };
    const out = calibrate(b, [0, 0, 0, 0]);
    expect(out).toEqual(b);
    expect(out).not.toBe(b);
    expect(out.landmarks).toBe(b.landmarks);
  });
});

describe('square', () => {
  it('grows the shorter side around the centre', () => {
    expect(square(box(10, 20, 30, 60, 0.4))).toEqual({ x1: 0, y1: 20, x2: 40, y2: 60, score: 0.4 });
    expect(square(box(0, 0, 50, 10))).toEqual(box(0, -20, 50, 30));
  });

  it('leaves a square unchanged', () => {
    expect(square(box(3, 4, 13, 14))).toEqual(box(3, 4, 13, 14));
  });
});

describe('clipToImage', () => {
  it('clamps to [0, width] × [0, height]', () => {
    expect(clipToImage(box(-5, -3, 700, 500, 0.2), 640, 480)).toEqual({ x1: 0, y1: 0, x2: 640, y2: 480, score: 0.2 });
    expect(clipToImage(box(10, 20, 30, 40), 640, 480)).toEqual(box(10, 20, 30, 40));
  });

  it('collapses a box wholly outside to zero area', () => {
    const out = clipToImage(box(700, 10, 800, 40), 640, 480);
    expect(area(out)).toBe(0);
    expect(out.x1).toBe(640);
    expect(out.x2).toBe(640);
    expect(area(clipToImage(box(-50, -50, -10, -10), 640, 480))).toBe(0);
  });
});
