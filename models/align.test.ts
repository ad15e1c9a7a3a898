import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/random.ts';
import {
  type Affine,
  ARCFACE_TEMPLATE_112,
  applyAffine,
  arcfaceTemplate,
  type Image,
  invertAffine,
  similarityTransform,
  warpAffine,
} from './align.ts';

const rng = seededRandom;

function similarity(theta: number, scale: number, tx: number, ty: number): Affine {
  const p = scale * Math.cos(theta);
  const q = scale * Math.sin(theta);
  return [p, -q, tx, q, p, ty];
}

function transformAll(m: Affine, pts: number[][]): [number, number][] {
  return pts.map(([x, y]) => applyAffine(m, x!, y!));
}

function residual(m: Affine, src: number[][], dst: number[][]): number {
  let r = 0;
  for (let i = 0; i < src.length; i++) {
    const [x, y] = applyAffine(m, src[i]![0]!, src[i]![1]!);
    r += (x - dst[i]![0]!) ** 2 + (y - dst[i]![1]!) ** 2;
  }
  return r;
}

function expectAffineClose(actual: Affine, expected: Affine, digits: number): void {
  for (let i = 0; i < 6; i++) expect(actual[i]).toBeCloseTo(expected[i]!, digits);
}

function randomPoints(rand: () => number, n: number, spread: number): number[][] {
  return Array.from({ length: n }, () => [rand() * spread, rand() * spread]);
}

describe('similarityTransform', () => {
  it('recovers a known rotation + scale + translation exactly', () => {
    const rand = rng(1);
    for (let trial = 0; trial < 50; trial++) {
      const truth = similarity(
        (rand() - 0.5) * 2 * Math.PI,
        0.1 + rand() * 4,
        (rand() - 0.5) * 500,
        (rand() - 0.5) * 500,
      );
      const src = randomPoints(rand, 2 + Math.floor(rand() * 8), 300);
      expectAffineClose(similarityTransform(src, transformAll(truth, src)), truth, 9);
    }
  });

  it('is the least-squares fit under noise', () => {
    const rand = rng(2);
    for (let trial = 0; trial < 20; trial++) {
      const truth = similarity(rand() * 6, 0.5 + rand(), rand() * 100, rand() * 100);
      const src = randomPoints(rand, 5, 200);
      const dst = transformAll(truth, src).map(([x, y]) => [x + (rand() - 0.5) * 6, y + (rand() - 0.5) * 6]);
      const fit = similarityTransform(src, dst);
      const best = residual(fit, src, dst);
      expect(best).toBeLessThanOrEqual(residual(truth, src, dst));
      // Any nearby similarity (same 4-parameter family) must do no better.
      for (let k = 0; k < 200; k++) {
        const eps = 10 ** -(1 + Math.floor(rand() * 5));
        const [p, , tx, q, , ty] = fit;
        const dp = (rand() - 0.5) * eps;
        const dq = (rand() - 0.5) * eps;
        const alt: Affine = [p + dp, -(q + dq), tx + (rand() - 0.5) * eps, q + dq, p + dp, ty + (rand() - 0.5) * eps];
        expect(residual(alt, src, dst)).toBeGreaterThanOrEqual(best - 1e-9);
      }
    }
  });

  it('matches the SVD-based Umeyama estimate (skimage algorithm, computed with numpy)', () => {
    const landmarks = [
      [105.3, 140.2],
      [160.8, 133.9],
      [135.1, 170.4],
      [112.0, 200.7],
      [158.6, 195.3],
    ];
    expectAffineClose(
      similarityTransform(landmarks, ARCFACE_TEMPLATE_112),
      [
        0.6479178917501306, -0.04042382575468175, -24.232842826185546, 0.04042382575468175, 0.6479178917501306,
        -42.44556283159601,
      ],
      10,
    );
  });

  it('never returns a reflection, even when the data is mirrored', () => {
    const src = [
      [0, 0],
      [10, 0],
      [0, 5],
      [3, 7],
    ];
    const dst = src.map(([x, y]) => [-x! + 2, y! + 3]);
    const fit = similarityTransform(src, dst);
    const [a, b, , c, d] = fit;
    expect(a * d - b * c).toBeGreaterThanOrEqual(0);
    expect(d).toBeCloseTo(a, 12);
    expect(c).toBeCloseTo(-b, 12);
    // Same answer as numpy Umeyama with its sign correction.
    expectAffineClose(
      fit,
      [
        -0.27446300715990457, 0.34367541766109777, -1.3890214797136033, -0.3436754176610978, -0.27446300715990457,
        7.940334128878281,
      ],
      10,
    );
    // The exact mirror would fit perfectly; a proper similarity cannot.
    expect(residual(fit, src, dst)).toBeGreaterThan(1);
    // Brute force over rotations (with their best scale and translation) finds nothing better.
    const best = residual(fit, src, dst);
    for (let i = 0; i < 3600; i++) {
      const theta = (i / 3600) * 2 * Math.PI;
      for (const scale of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
        const lin = similarity(theta, scale, 0, 0);
        // Optimal translation for a fixed linear part aligns the centroids.
        const ms = [0, 1].map((_, axis) => src.reduce((s, p) => s + p[axis]!, 0) / src.length);
        const md = [0, 1].map((axis) => dst.reduce((s, p) => s + p[axis]!, 0) / dst.length);
        const [mx, my] = applyAffine(lin, ms[0]!, ms[1]!);
        const cand: Affine = [lin[0], lin[1], md[0]! - mx, lin[3], lin[4], md[1]! - my];
        expect(residual(cand, src, dst)).toBeGreaterThanOrEqual(best - 1e-9);
      }
    }
  });

  it('maps the template onto itself and onto a scaled template', () => {
    expectAffineClose(similarityTransform(ARCFACE_TEMPLATE_112, ARCFACE_TEMPLATE_112), [1, 0, 0, 0, 1, 0], 12);
    expectAffineClose(similarityTransform(ARCFACE_TEMPLATE_112, arcfaceTemplate(224)), [2, 0, 0, 0, 2, 0], 12);
    expect(arcfaceTemplate(112)).toEqual(ARCFACE_TEMPLATE_112);
    expect(arcfaceTemplate(56)[0]).toEqual([38.2946 / 2, 51.6963 / 2]);
  });

  it('rejects mismatched, too few, coincident or non-finite points', () => {
    expect(() => similarityTransform([[0, 0]], [[1, 1]])).toThrow(RangeError);
    expect(() =>
      similarityTransform(
        [
          [0, 0],
          [1, 1],
        ],
        [[1, 1]],
      ),
    ).toThrow(RangeError);
    expect(() =>
      similarityTransform(
        [
          [3, 3],
          [3, 3],
        ],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow(/coincident/);
    expect(() =>
      similarityTransform(
        [
          [0, Number.NaN],
          [1, 1],
        ],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow(/finite/);
    expect(() =>
      similarityTransform(
        [[0], [1, 1]],
        [
          [0, 0],
          [1, 1],
        ],
      ),
    ).toThrow(/finite/);
  });
});

describe('invertAffine', () => {
  it('round-trips points and composes to the identity', () => {
    const m: Affine = [1.3, -0.4, 12, 0.7, 0.9, -5];
    const inv = invertAffine(m);
    const [x, y] = applyAffine(inv, ...applyAffine(m, 17.5, -3.25));
    expect(x).toBeCloseTo(17.5, 12);
    expect(y).toBeCloseTo(-3.25, 12);
    expectAffineClose(invertAffine(inv), m, 12);
  });

  it('rejects singular matrices', () => {
    expect(() => invertAffine([1, 2, 0, 2, 4, 0])).toThrow(RangeError);
  });
});

function randomImage(rand: () => number, width: number, height: number, channels: number, float: boolean): Image {
  const n = width * height * channels;
  const data = float ? new Float32Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = float ? rand() * 255 : Math.floor(rand() * 256);
  return { data, width, height, channels };
}

/** Plain float64 bilinear warp with a zero border, solving for the source point per pixel. */
function referenceWarp(img: Image, m: Affine, outW: number, outH: number): Float64Array {
  const { data, width, height, channels } = img;
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  const at = (ix: number, iy: number, k: number): number =>
    ix < 0 || iy < 0 || ix >= width || iy >= height ? 0 : data[(iy * width + ix) * channels + k]!;
  const out = new Float64Array(outW * outH * channels);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const rx = x - tx;
      const ry = y - ty;
      const u = (d * rx - b * ry) / det;
      const v = (a * ry - c * rx) / det;
      const x0 = Math.floor(u);
      const y0 = Math.floor(v);
      const fx = u - x0;
      const fy = v - y0;
      for (let k = 0; k < channels; k++) {
        out[(y * outW + x) * channels + k] =
          (1 - fx) * (1 - fy) * at(x0, y0, k) +
          fx * (1 - fy) * at(x0 + 1, y0, k) +
          (1 - fx) * fy * at(x0, y0 + 1, k) +
          fx * fy * at(x0 + 1, y0 + 1, k);
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('warpAffine', () => {
  it('matches a float64 bilinear reference on random images, including the zero border', () => {
    const rand = rng(3);
    for (const [channels, float] of [
      [3, false],
      [1, false],
      [3, true],
      [4, false],
    ] as const) {
      const img = randomImage(rand, 97, 83, channels, float);
      for (let trial = 0; trial < 5; trial++) {
        // Large enough translations/rotations that part of every crop falls outside the source.
        const m = similarity((rand() - 0.5) * 2, 0.6 + rand() * 1.4, (rand() - 0.7) * 80, (rand() - 0.7) * 80);
        const got = warpAffine(img, m, 112, 112);
        const want = referenceWarp(img, m, 112, 112);
        expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1);
        expect(maxAbsDiff(got, want)).toBeLessThan(1e-3);
        expect(got.some((v) => v === 0)).toBe(true);
      }
    }
  });

  it('an integer translation is an exact shifted copy with zeros outside', () => {
    const rand = rng(4);
    const img = randomImage(rand, 40, 30, 3, false);
    const dx = 7;
    const dy = -4;
    const out = warpAffine(img, [1, 0, dx, 0, 1, dy], 50, 35);
    for (let y = 0; y < 35; y++) {
      for (let x = 0; x < 50; x++) {
        const sx = x - dx;
        const sy = y - dy;
        for (let k = 0; k < 3; k++) {
          const want = sx >= 0 && sx < 40 && sy >= 0 && sy < 30 ? img.data[(sy * 40 + sx) * 3 + k] : 0;
          expect(out[(y * 50 + x) * 3 + k]).toBe(want);
        }
      }
    }
  });

  it('flip writes the mirror image of the unflipped crop', () => {
    const rand = rng(5);
    const img = randomImage(rand, 120, 140, 3, false);
    const m = similarity(0.3, 0.9, -10, 5);
    const plain = warpAffine(img, m, 112, 96);
    const flipped = warpAffine(img, m, 112, 96, undefined, 0, true);
    for (let y = 0; y < 96; y++) {
      for (let x = 0; x < 112; x++) {
        for (let k = 0; k < 3; k++) {
          expect(flipped[(y * 112 + x) * 3 + k]).toBe(plain[(y * 112 + (111 - x)) * 3 + k]);
        }
      }
    }
  });

  it('writes into a batch buffer at an offset without touching the rest', () => {
    const rand = rng(6);
    const img = randomImage(rand, 64, 64, 3, false);
    const m = similarity(-0.2, 1.1, 3, -2);
    const crop = 16 * 16 * 3;
    const batch = new Float32Array(3 * crop).fill(-1);
    const ret = warpAffine(img, m, 16, 16, batch, crop);
    expect(ret).toBe(batch);
    expect(batch.subarray(crop, 2 * crop)).toEqual(warpAffine(img, m, 16, 16));
    expect(batch.subarray(0, crop).every((v) => v === -1)).toBe(true);
    expect(batch.subarray(2 * crop).every((v) => v === -1)).toBe(true);
    expect(() => warpAffine(img, m, 16, 16, batch, 2 * crop + 1)).toThrow(RangeError);
    expect(() => warpAffine(img, m, 16, 16, undefined, 3)).toThrow(RangeError);
  });

  it('aligns landmarks onto the template: a bright dot at each landmark lands on the template point', () => {
    const width = 200;
    const height = 180;
    // Face smaller than the crop, so the warp upsamples and every dot is sure to be sampled.
    const truth = similarity(0.25, 0.8, 60, 40);
    const landmarks = transformAll(
      truth,
      ARCFACE_TEMPLATE_112.map((p) => [...p]),
    );
    const data = new Uint8Array(width * height);
    for (const [x, y] of landmarks) data[Math.round(y) * width + Math.round(x)] = 255;
    const m = similarityTransform(landmarks, ARCFACE_TEMPLATE_112);
    expectAffineClose(m, invertAffine(truth), 9);
    const crop = warpAffine({ data, width, height, channels: 1 }, m, 112, 112);
    let total = 0;
    for (const v of crop) total += v;
    ARCFACE_TEMPLATE_112.forEach(([tx, ty], i) => {
      const [sx, sy] = applyAffine(m, ...landmarks[i]!);
      expect(sx).toBeCloseTo(tx, 9);
      expect(sy).toBeCloseTo(ty, 9);
      // The dot was rounded to a whole pixel, so its energy lies within a pixel or two of the template point.
      let energy = 0;
      for (let y = Math.floor(ty) - 2; y <= Math.floor(ty) + 3; y++) {
        for (let x = Math.floor(tx) - 2; x <= Math.floor(tx) + 3; x++) energy += crop[y * 112 + x]!;
      }
      expect(energy).toBeGreaterThan(255);
      total -= energy;
    });
    expect(total).toBe(0);
  });

  it('rejects bad shapes', () => {
    const img: Image = { data: new Uint8Array(10), width: 4, height: 4, channels: 1 };
    expect(() => warpAffine(img, [1, 0, 0, 0, 1, 0], 4, 4)).toThrow(RangeError);
    expect(() => warpAffine({ ...img, width: 2 }, [1, 0, 0, 0, 1, 0], 0, 4)).toThrow(RangeError);
  });
});
