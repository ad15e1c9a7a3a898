import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useFaceModels } from '../test/support/models.ts';
import { PEOPLE, personImage } from '../test/support/testdata.ts';
import { analyze } from './analyze.ts';
import { faceSignature, signatureSimilarity } from './faceSignature.ts';
import { decodeImage, type RgbImage } from './image.ts';

const models = await useFaceModels();

/** The photo on a grey canvas, optionally as a later video frame would show it: moved, smaller, brighter. */
async function frame(file: string, moved: boolean): Promise<RgbImage> {
  const { width = 0, height = 0 } = await sharp(file).metadata();
  const scale = moved ? 0.93 : 1;
  const shift = moved ? 4 : 0;
  const jpeg = await sharp(readFileSync(file))
    .resize(Math.round(width * scale), Math.round(height * scale))
    .extend({ top: 60 + shift, bottom: 60 - shift, left: 60 + shift, right: 60 - shift, background: '#808080' })
    .linear(moved ? 1.12 : 1, 0)
    .jpeg({ quality: 80 })
    .toBuffer();
  return decodeImage(jpeg, { maxPixels: 1e8 });
}

async function signatureOf(file: string, moved: boolean): Promise<Float32Array> {
  const image = await frame(file, moved);
  const [face] = await analyze(models, image, { embed: false, signatures: true });
  expect(face?.signature).toBeDefined();
  // analyze's signature is faceSignature over the face's landmarks.
  const direct = faceSignature({ ...image, channels: 3 }, face!.landmarks);
  expect(signatureSimilarity(direct, face!.signature!)).toBeCloseTo(1, 6);
  return face!.signature!;
}

describe('faceSignature', () => {
  it('is unit length with zero mean, and a flat image gives zeros', () => {
    const flat = { data: new Uint8Array(100 * 100 * 3).fill(90), width: 100, height: 100, channels: 3 };
    const points = [
      [35, 45],
      [65, 45],
      [50, 60],
      [38, 75],
      [62, 75],
    ];
    expect(faceSignature(flat, points).every((v) => v === 0)).toBe(true);
    const noisy = { ...flat, data: flat.data.map((_, i) => (i * 7919) % 256) };
    const s = faceSignature(noisy, points);
    expect(s.length).toBe(256);
    expect(signatureSimilarity(s, s)).toBeCloseTo(1, 5);
    expect(s.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 4);
  });

  it('keeps a moved face close to itself and tells different people apart', async () => {
    const still: Float32Array[] = [];
    for (const person of PEOPLE) {
      const file = personImage(person, 1);
      const a = await signatureOf(file, false);
      const b = await signatureOf(file, true);
      // The tracker's minAppearance is 0.7: a face's own next frame must stay well above it.
      expect(signatureSimilarity(a, b)).toBeGreaterThan(0.8);
      still.push(a);
    }
    const different: number[] = [];
    for (let i = 0; i < still.length; i++) {
      for (let j = i + 1; j < still.length; j++) different.push(signatureSimilarity(still[i]!, still[j]!));
    }
    const below = different.filter((s) => s < 0.7).length;
    expect(below / different.length).toBeGreaterThanOrEqual(0.9);
  });
});
