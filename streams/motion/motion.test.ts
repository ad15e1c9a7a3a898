// The motion detector on real photos: a blurred BBT scene as the empty room, with sensor noise, lighting drift
// and an auto-exposure step; then a person (a facebank photo) pasted in; then the same behind a mask.
import sharp, { type Sharp } from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { area } from '../../models/box.ts';
import type { RgbImage } from '../../models/image.ts';
import { personImage, SCENES } from '../../test/support/testdata.ts';
import { MotionDetector, type MotionOptions } from './detector.ts';
import { greyThumbnail } from './thumbnail.ts';

const W = 640;
const H = 360;
const OPTIONS: MotionOptions = { threshold: 20, minArea: 0.001, masks: [], region: null };
/** Where the person stands, in frame pixels. */
const PERSON = { left: 400, top: 100, size: 110 };

let room: RgbImage;
let withPerson: RgbImage;

async function raw(input: Sharp): Promise<RgbImage> {
  const { data, info } = await input.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** The frame with its brightness scaled by `gain` and Gaussian-ish noise of about `noise` grey levels added. */
function shot(image: RgbImage, gain: number, noise: number, seed: number): RgbImage {
  const data = new Uint8Array(image.data.length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    // Sum of two uniforms: a triangular distribution of about ±noise.
    const n = (((s & 0xff) + ((s >>> 8) & 0xff)) / 255 - 1) * noise;
    data[i] = Math.max(0, Math.min(255, Math.round(image.data[i]! * gain + n)));
  }
  return { data, width: image.width, height: image.height };
}

function check(detector: MotionDetector, image: RgbImage) {
  return detector.update(greyThumbnail(image), image.width, image.height);
}

beforeAll(async () => {
  const background = await sharp(SCENES[1]!).resize(W, H, { fit: 'cover' }).blur(4).toBuffer();
  room = await raw(sharp(background));
  const face = await sharp(personImage('raj', 1)).resize(PERSON.size, PERSON.size).toBuffer();
  withPerson = await raw(sharp(background).composite([{ input: face, left: PERSON.left, top: PERSON.top }]));
});

describe('MotionDetector', () => {
  it('sees no motion in an empty room with sensor noise, lighting drift and an exposure step', () => {
    const detector = new MotionDetector(OPTIONS);
    expect(check(detector, shot(room, 1, 8, 1)).wholeFrame).toBe(true);
    let regions = 0;
    for (let i = 1; i <= 60; i++) {
      // Light drifting down 12% over 6 s, then the camera's exposure jumping back up by 20%.
      const gain = i < 40 ? 1 - 0.003 * i : 1.2 * (1 - 0.003 * 40);
      const r = check(detector, shot(room, gain, 8, i + 1));
      expect(r.wholeFrame).toBe(false);
      regions += r.regions.length;
    }
    expect(regions).toBe(0);
  });

  it('finds a person walking in, on the first frame they are there, where they are', () => {
    const detector = new MotionDetector(OPTIONS);
    for (let i = 0; i < 10; i++) check(detector, shot(room, 1, 8, i + 1));
    const r = check(detector, shot(withPerson, 1, 8, 99));
    expect(r.wholeFrame).toBe(false);
    expect(r.regions.length).toBeGreaterThan(0);
    const { x1, y1, x2, y2 } = r.regions.reduce((a, b) => (area(b) > area(a) ? b : a));
    // The largest moving region covers the pasted photo (within a cell of the small image: 4 px).
    expect(x1).toBeLessThanOrEqual(PERSON.left + 8);
    expect(y1).toBeLessThanOrEqual(PERSON.top + 8);
    expect(x2).toBeGreaterThanOrEqual(PERSON.left + PERSON.size - 8);
    expect(y2).toBeGreaterThanOrEqual(PERSON.top + PERSON.size - 8);
    expect(r.fraction).toBeGreaterThan(0.02);
  });

  it('ignores motion inside a mask and outside the detection region', () => {
    const mask = {
      rect: [
        (PERSON.left - 20) / W,
        (PERSON.top - 20) / H,
        (PERSON.left + PERSON.size + 20) / W,
        (PERSON.top + PERSON.size + 20) / H,
      ],
    } as const;
    for (const options of [
      { ...OPTIONS, masks: [{ rect: [...mask.rect] as [number, number, number, number] }] },
      {
        ...OPTIONS,
        region: {
          polygon: [
            [0, 0],
            [0.5, 0],
            [0.5, 1],
            [0, 1],
          ] as [number, number][],
        },
      },
    ]) {
      const detector = new MotionDetector(options);
      for (let i = 0; i < 10; i++) check(detector, shot(room, 1, 8, i + 1));
      const r = check(detector, shot(withPerson, 1, 8, 99));
      expect(r.regions).toEqual([]);
      expect(r.fraction).toBe(0);
    }
  });

  it('takes a cut to another scene as a new background, looked at whole once', async () => {
    const detector = new MotionDetector(OPTIONS);
    for (let i = 0; i < 5; i++) check(detector, shot(room, 1, 8, i + 1));
    const other = await raw(sharp(SCENES[3]!).resize(W, H, { fit: 'cover' }));
    expect(check(detector, other).wholeFrame).toBe(true);
    const after = check(detector, shot(other, 1, 8, 7));
    expect(after.wholeFrame).toBe(false);
    expect(after.regions).toEqual([]);
  });
});
