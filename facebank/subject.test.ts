// The enrolment rule on real photos: portraits with people close behind are enrolled with their central face,
// group photos are still refused. The geometry cases are in matcher.test.ts (classifyFaces).
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { LFW_DEV_DIR, SCENES } from '../test/support/testdata.ts';
import { analyzeImage, COMPARABLE_FACE_AREA } from './analysis.ts';
import { MAX_PIXELS, usePool } from './testing.ts';

const { pool } = usePool();
const settings = { maxPixels: MAX_PIXELS, flip: false };
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, k) => s + x * b[k]!, 0);
const area = (b: { x1: number; y1: number; x2: number; y2: number }) => (b.x2 - b.x1) * (b.y2 - b.y1);

describe('enrolment subject', () => {
  test('a portrait with a second face of similar size behind is enrolled with its central face', async () => {
    // Ali_Naimi_0003: a second face at 80% of the subject's area, at the edge of the picture.
    const bytes = await readFile(`${LFW_DEV_DIR}images/Ali_Naimi/Ali_Naimi_0003.jpg`);
    const r = await pool().analyzeEncoded(bytes, MAX_PIXELS, { detect: { minFaceSize: 20 } });
    const largest = Math.max(...r.faces.map((f) => area(f.box)));
    expect(r.faces.filter((f) => area(f.box) >= COMPARABLE_FACE_AREA * largest).length).toBeGreaterThanOrEqual(2);
    const centre = (f: (typeof r.faces)[number]) =>
      Math.hypot((f.box.x1 + f.box.x2 - r.width) / 2, (f.box.y1 + f.box.y2 - r.height) / 2);
    const central = [...r.faces].sort((a, b) => centre(a) - centre(b))[0]!;

    const a = await analyzeImage(pool(), bytes, settings);
    expect(a.status).toBe('embedded');
    expect(dot(a.embedding!, central.embedding)).toBeGreaterThan(0.999);
    // The same person's other photo agrees with it.
    const other = await analyzeImage(
      pool(),
      await readFile(`${LFW_DEV_DIR}images/Ali_Naimi/Ali_Naimi_0001.jpg`),
      settings,
    );
    expect(dot(a.embedding!, other.embedding!)).toBeGreaterThan(0.4);
  });

  test('every BBT group photo is still refused, saying why', async () => {
    for (const scene of SCENES) {
      const a = await analyzeImage(pool(), await readFile(scene), settings);
      expect(a.status, scene).toBe('several_faces');
      expect(a.message).toMatch(/none is clearly the subject \(they are small in the picture, as in a group photo\)/);
    }
  });
});
