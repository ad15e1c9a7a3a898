import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { usePool } from '../../facebank/testing.ts';
import { signatureSimilarity } from '../../models/faceSignature.ts';
import { type Person, personImage } from '../../test/support/testdata.ts';
import { faceWeight, IdentityDecision, SAME_FACE_MIN, TrackEvidence } from './identity.ts';
import { DEFAULT_TRACKER_OPTIONS } from './trackerOptions.ts';

const unit = (...v: number[]) => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};

describe('TrackEvidence', () => {
  it('is the weighted mean of its embeddings, and compares a new one with it', () => {
    const e = new TrackEvidence();
    expect(e.mean()).toBeUndefined();
    expect(e.similarity(unit(1, 0))).toBe(1);
    e.add(unit(1, 0), 3);
    e.add(unit(0, 1), 1);
    expect([...e.mean()!]).toEqual([...unit(3, 1)]);
    expect(e.count).toBe(2);
    expect(e.similarity(unit(1, 0))).toBeCloseTo(3 / Math.hypot(3, 1), 6);
    // Another dimension (the facebank switched embedders): the old evidence is dropped.
    e.add(unit(1, 0, 0), 1);
    expect(e.count).toBe(1);
    expect([...e.mean()!]).toEqual([1, 0, 0]);
  });
});

describe('IdentityDecision', () => {
  it('decides after enough evidence, then changes only on answers in a row', () => {
    const d = new IdentityDecision(3, 2);
    expect(d.update({ name: 'amy', score: 0.6 }, 2)).toBe(false);
    expect(d.name).toBeUndefined();
    expect(d.update({ name: 'amy', score: 0.6 }, 3)).toBe(true);
    expect(d.update({ name: 'Unknown', score: 0.3 }, 4)).toBe(false);
    expect(d.update({ name: 'amy', score: 0.55 }, 5)).toBe(false);
    expect([d.name, d.score]).toEqual(['amy', 0.55]);
    expect(d.update({ name: 'Unknown', score: 0.3 }, 6)).toBe(false);
    expect(d.update({ name: 'Unknown', score: 0.3 }, 7)).toBe(true);
    expect(d.name).toBe('Unknown');
  });
});

describe('faceWeight', () => {
  const box = (h: number) => ({ x1: 0, y1: 0, x2: h, y2: h });
  it('weighs small, doubtful and turned faces less', () => {
    const frontal: [number, number][] = [
      [30, 40],
      [70, 40],
      [50, 60],
    ];
    const turned: [number, number][] = [
      [30, 40],
      [70, 40],
      [70, 60],
    ];
    const full = faceWeight({ box: box(100), score: 1, landmarks: frontal });
    expect(full).toBe(1);
    expect(faceWeight({ box: box(40), score: 1, landmarks: frontal })).toBeCloseTo(0.25);
    expect(faceWeight({ box: box(100), score: 0.8, landmarks: frontal })).toBeCloseTo(0.8);
    expect(faceWeight({ box: box(100), score: 1, landmarks: turned })).toBeCloseTo(0.25);
  });

  it('is the measured face quality when the pool gave one (a poor face weighs under half a good one)', () => {
    expect(faceWeight({ box: box(40), score: 0.9, quality: 0.95 })).toBeCloseTo(0.95);
    expect(faceWeight({ box: box(100), score: 1, quality: 0.3 })).toBeCloseTo(0.3);
  });
});

describe('telling people apart in a track, on real photos', () => {
  const { pool } = usePool();

  /** Photo 4 of a person, as a 1280×720 camera at a door would show it (a 432 px face on grey). */
  async function seen(person: Person) {
    const face = await sharp(personImage(person, 4)).resize(432, 432).removeAlpha().raw().toBuffer();
    const frame = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#808080' } })
      .composite([{ input: face, raw: { width: 432, height: 432, channels: 3 }, left: 424, top: 144 }])
      .removeAlpha()
      .raw()
      .toBuffer();
    const r = await pool().analyzeFrame(
      { data: new Uint8Array(frame), width: 1280, height: 720 },
      { signatures: true },
    );
    expect(r.faces).toHaveLength(1);
    return r.faces[0]!;
  }

  it('the embedding splits people whose 16×16 signatures look alike', async () => {
    // Two of the pairs of BBT photo 4 whose appearance signatures pass the tracker's appearance check.
    for (const [a, b] of [
      ['amy', 'leonard'],
      ['howard', 'raj'],
    ] as const) {
      const [fa, fb] = await Promise.all([seen(a), seen(b)]);
      expect(signatureSimilarity(fa.signature!, fb.signature!), `${a}/${b} look`).toBeGreaterThanOrEqual(
        DEFAULT_TRACKER_OPTIONS.minAppearance,
      );
      const evidence = new TrackEvidence();
      evidence.add(fa.embedding, faceWeight({ ...fa, quality: fa.quality.score }));
      expect(evidence.similarity(fb.embedding), `${a}/${b} embedding`).toBeLessThan(SAME_FACE_MIN);
      // The same face again is far above the bound.
      expect(evidence.similarity((await seen(a)).embedding)).toBeGreaterThan(0.9);
    }
  });
});
