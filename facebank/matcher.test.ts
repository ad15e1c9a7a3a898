import { describe, expect, test } from 'vitest';
import type { AnalyzedFace } from '../models/analyze.ts';
import { assessQuality } from '../models/quality.ts';
import { classifyFaces } from './analysis.ts';
import { Matcher, UNKNOWN } from './matcher.ts';

function unit(...v: number[]): Float32Array {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}

describe('Matcher', () => {
  const templates = [
    { person: 'amy', embedding: unit(1, 0, 0) },
    { person: 'amy', embedding: unit(1, 1, 0) },
    { person: 'raj', embedding: unit(0, 1, 0) },
    { person: 'sheldon', embedding: unit(0, 0, 1) },
  ];
  const m = new Matcher(templates);

  test("a person's template is the normalised mean of their images; margin is to the next person", () => {
    const q = unit(1, 0.1, 0);
    const r = m.match(q, 0.5);
    expect(r.name).toBe('amy');
    expect(r.candidate).toBe('amy');
    const amy = unit(1 / 1 + Math.SQRT1_2, Math.SQRT1_2, 0);
    expect(r.score).toBeCloseTo(q[0]! * amy[0]! + q[1]! * amy[1]!, 5);
    // raj's template is (0,1,0): amy's second image must not count as a competitor.
    expect(r.margin).toBeCloseTo(r.score - q[1]!, 5);
    expect(r.threshold).toBe(0.5);
    expect(m.templates).toBe(4);
    expect(m.people).toBe(3);
  });

  test('below the threshold the name is Unknown but the candidate, score and margin are kept', () => {
    const r = m.match(unit(0, 0, 1), 1.01);
    expect(r.name).toBe(UNKNOWN);
    expect(r.candidate).toBe('sheldon');
    expect(r.score).toBeCloseTo(1, 5);
    expect(r.margin).toBeCloseTo(1, 5);
  });

  test('one person: margin 1; nobody: Unknown, no candidate, score and margin 0', () => {
    expect(new Matcher([{ person: 'amy', embedding: unit(1, 0) }]).match(unit(0, 1), 0.3)).toEqual({
      name: UNKNOWN,
      candidate: 'amy',
      score: 0,
      margin: 1,
      threshold: 0.3,
    });
    expect(new Matcher([]).match(unit(1, 0), 0.3)).toEqual({
      name: UNKNOWN,
      candidate: undefined,
      score: 0,
      margin: 0,
      threshold: 0.3,
    });
  });

  test("impostor scores are every image against every other person's template", () => {
    const s = [...m.impostorScores()].sort();
    // 4 images × 2 other people.
    expect(s).toHaveLength(8);
    // Orthogonal: amy's first image and raj, everyone and sheldon, sheldon and everyone.
    expect(s.filter((x) => Math.abs(x) < 1e-6)).toHaveLength(6);
    expect(s.at(-1)).toBeCloseTo(Math.SQRT1_2, 5);
    expect([...m.impostorScores(3)]).toHaveLength(3);
    expect(new Matcher([{ person: 'amy', embedding: unit(1, 0) }]).impostorScores()).toHaveLength(0);
  });

  test('a wrong dimension is an error', () => {
    expect(() => m.match(unit(1, 0), 0.3)).toThrow(/dimensions/);
  });
});

describe('classifyFaces', () => {
  const face = (side: number, extra: Partial<AnalyzedFace> = {}): AnalyzedFace => ({
    box: { x1: 0, y1: 0, x2: side, y2: side },
    score: 0.99,
    landmarks: [],
    embedding: unit(side, 1),
    quality: assessQuality({ interOcular: side / 3, blur: 0.3, yaw: 0, pitch: 0, roll: 0, confidence: 0.99 }),
    ...extra,
  });

  /** A face of this side centred at (cx, cy); its embedding tells the faces apart. */
  const at = (side: number, cx: number, cy: number): AnalyzedFace =>
    face(side, { box: { x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2 } });

  test('the largest face is taken when the others are much smaller', () => {
    const r = classifyFaces([face(10), face(100), face(70)], 1000, 1000);
    expect(r.status).toBe('embedded');
    expect(r.embedding).toEqual(unit(100, 1));
    expect(r.message).toBeUndefined();
  });

  test('comparable faces (second ≥ 50% of the largest area) small in the picture reject it as a group photo', () => {
    const r = classifyFaces([at(100, 500, 300), at(71, 300, 300), at(72, 700, 300), at(20, 100, 100)], 1000, 600);
    expect(r.status).toBe('several_faces');
    expect(r.message).toBe(
      '3 faces of similar size and none is clearly the subject (they are small in the picture, as in a group photo); crop the image to one person',
    );
    expect(r.embedding).toBeUndefined();
  });

  test('a portrait takes its central face over a larger one behind at the side', () => {
    const r = classifyFaces([at(120, 128, 122), at(124, 215, 100)], 250, 250);
    expect(r.status).toBe('embedded');
    expect(r.embedding).toEqual(unit(120, 1));
  });

  test('two people side by side around the centre are refused', () => {
    const even = classifyFaces([at(110, 70, 125), at(111, 180, 125)], 250, 250);
    expect(even.status).toBe('several_faces');
    expect(even.message).toBe(
      '2 faces of similar size and none is clearly the subject (two are about equally central); crop the image to one person',
    );
    const apart = classifyFaces([at(100, 60, 125), at(101, 190, 125)], 250, 250);
    expect(apart.status).toBe('several_faces');
    expect(apart.message).toBe(
      '2 faces of similar size and none is clearly the subject (none is at the centre of the picture); crop the image to one person',
    );
  });

  test('a whole-image fallback is a crop_fallback with its embedding', () => {
    const r = classifyFaces([face(150, { wholeImage: true })], 150, 150);
    expect(r.status).toBe('crop_fallback');
    expect(r.message).toBe('no face detected; the image was used as a face crop');
    expect(r.embedding).toBeDefined();
  });
});
