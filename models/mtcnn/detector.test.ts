import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { useFaceModels } from '../../test/support/models.ts';
import { MTCNN_REFERENCE_DIR } from '../../test/support/testdata.ts';
import { decodeImage, type RgbImage } from '../image.ts';
import {
  cropBatch,
  DEFAULT_DETECT_OPTIONS,
  type DetectedFace,
  type DetectOptions,
  detectFaces,
  pyramidScales,
} from './detector.ts';

interface ReferenceCase {
  min_face_size: number;
  scale_factor?: number;
  max_num_scales?: number;
  score_thresholds?: [number, number, number];
  scores?: number[];
  max_score_delta: number;
  max_box_delta_px: number;
  max_landmark_delta_px: number;
}
const reference = JSON.parse(readFileSync(`${MTCNN_REFERENCE_DIR}expected.json`, 'utf8')) as {
  faces_expected: number;
  boxes_xywh: { x: number; y: number; width: number; height: number }[];
  landmarks_5pt: [number, number][][];
  cases: ReferenceCase[];
};

const models = await useFaceModels();
const photo = await decodeImage(readFileSync(`${MTCNN_REFERENCE_DIR}faces.jpg`), { maxPixels: 1e8 });

function optionsOf(c: ReferenceCase): Partial<DetectOptions> {
  return {
    minFaceSize: c.min_face_size,
    scaleFactor: c.scale_factor ?? DEFAULT_DETECT_OPTIONS.scaleFactor,
    maxScales: c.max_num_scales ?? 0,
    thresholds: c.score_thresholds ?? DEFAULT_DETECT_OPTIONS.thresholds,
  };
}

function nearest<T>(items: T[], distance: (t: T) => number): T {
  return items.reduce((best, t) => (distance(t) < distance(best) ? t : best));
}

const centre = (f: DetectedFace) => [(f.box.x1 + f.box.x2) / 2, (f.box.y1 + f.box.y2) / 2] as const;

async function crop(img: RgbImage, left: number, top: number, width: number, height: number): Promise<RgbImage> {
  const data = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left, top, width, height })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data), width, height };
}

describe('MTCNN on the reference photo', () => {
  reference.cases.forEach((c, i) => {
    it(`case ${i + 1}: ${JSON.stringify(optionsOf(c))} finds all faces within tolerance`, async () => {
      const faces = await detectFaces(models.mtcnn, photo, optionsOf(c));
      expect(faces).toHaveLength(reference.faces_expected);
      // Boxes and landmarks are listed in different orders: match each by position.
      for (const r of reference.boxes_xywh) {
        const f = nearest(faces, (g) =>
          Math.hypot(centre(g)[0] - (r.x + r.width / 2), centre(g)[1] - (r.y + r.height / 2)),
        );
        const delta = Math.max(
          Math.abs(f.box.x1 - r.x),
          Math.abs(f.box.y1 - r.y),
          Math.abs(f.box.x2 - (r.x + r.width)),
          Math.abs(f.box.y2 - (r.y + r.height)),
        );
        expect(delta, `box near ${r.x},${r.y}`).toBeLessThanOrEqual(c.max_box_delta_px);
      }
      for (const points of reference.landmarks_5pt) {
        const f = nearest(faces, (g) =>
          Math.hypot(g.landmarks[2]![0] - points[2]![0], g.landmarks[2]![1] - points[2]![1]),
        );
        points.forEach(([x, y], k) => {
          const [fx, fy] = f.landmarks[k]!;
          expect(Math.hypot(fx - x, fy - y), `landmark ${k} near ${x},${y}`).toBeLessThanOrEqual(
            c.max_landmark_delta_px,
          );
        });
      }
      // Scores are given without an order; compare them sorted.
      const expected = [...(c.scores ?? [])].sort();
      const actual = faces.map((f) => f.score).sort();
      for (const [k, s] of expected.entries()) expect(Math.abs(actual[k]! - s)).toBeLessThanOrEqual(c.max_score_delta);
    });
  });

  it('with stricter candidate stages (fewer, merged, capped candidates) finds the same faces', async () => {
    const all = await detectFaces(models.mtcnn, photo, { minFaceSize: 40 });
    for (const strict of [
      { thresholds: [0.7, 0.8, 0.7] as [number, number, number], crossScaleNms: 0.5 },
      { maxCandidates: 30 },
    ]) {
      const faces = await detectFaces(models.mtcnn, photo, { minFaceSize: 40, ...strict });
      expect(faces, JSON.stringify(strict)).toHaveLength(all.length);
      for (const f of faces) {
        const g = nearest(all, (x) => Math.hypot(centre(x)[0] - centre(f)[0], centre(x)[1] - centre(f)[1]));
        expect(Math.abs(g.box.x1 - f.box.x1) + Math.abs(g.box.y2 - f.box.y2), JSON.stringify(strict)).toBeLessThan(12);
      }
    }
    // A cap so low that candidates of some faces are cut: fewer faces, never more.
    expect((await detectFaces(models.mtcnn, photo, { minFaceSize: 40, maxCandidates: 2 })).length).toBeLessThan(
      all.length,
    );
  });

  it('honours maxFaces, keeping the largest faces', async () => {
    const all = await detectFaces(models.mtcnn, photo, { minFaceSize: 40 });
    const two = await detectFaces(models.mtcnn, photo, { minFaceSize: 40, maxFaces: 2 });
    const area = (f: DetectedFace) => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
    expect(two).toHaveLength(2);
    expect(two.map(area)).toEqual(all.map(area).slice(0, 2));
  });
});

describe('MTCNN finds no face where there is none', () => {
  it('in a blank image', async () => {
    const blank = { data: new Uint8Array(640 * 480 * 3).fill(128), width: 640, height: 480 };
    expect(await detectFaces(models.mtcnn, blank)).toEqual([]);
  });

  it('in a photo of a wall (the backdrop behind the people, with its logo and lettering)', async () => {
    const wall = await crop(photo, 355, 0, 180, 125);
    expect(await detectFaces(models.mtcnn, wall, { minFaceSize: 20 })).toEqual([]);
  });
});

describe('MTCNN at the image border', () => {
  it('finds faces cut by the border without boxes outside the image', async () => {
    // Cuts through the top-left and bottom-left faces.
    const cut = await crop(photo, 110, 60, 600, 413);
    const faces = await detectFaces(models.mtcnn, cut, { minFaceSize: 20 });
    expect(faces.length).toBeGreaterThanOrEqual(4);
    for (const f of faces) {
      expect(f.box.x1).toBeGreaterThanOrEqual(0);
      expect(f.box.y1).toBeGreaterThanOrEqual(0);
      expect(f.box.x2).toBeLessThanOrEqual(cut.width);
      expect(f.box.y2).toBeLessThanOrEqual(cut.height);
      expect(f.box.x2).toBeGreaterThan(f.box.x1);
    }
  });

  it('handles images smaller than the smallest face window', async () => {
    const tiny = await crop(photo, 0, 0, 11, 30);
    expect(await detectFaces(models.mtcnn, tiny)).toEqual([]);
  });
});

describe('box crops', () => {
  it("read from the boxes' window the same pixels as from the whole image, at its edges too", async () => {
    // A lone box inside (the window is a small part of the photo), boxes over each edge and a corner, a box
    // larger than the photo, and boxes down to a pixel.
    const { width: w, height: h } = photo;
    const sets = [
      [{ x1: 300.4, y1: 120.7, x2: 352.9, y2: 173.2 }],
      [
        { x1: -20.5, y1: 30, x2: 40.5, y2: 91 },
        { x1: w - 30.2, y1: h - 25.7, x2: w + 14.8, y2: h + 19.3 },
      ],
      [{ x1: 200, y1: -12.3, x2: 260, y2: 47.7 }],
      [{ x1: -50, y1: -50, x2: w + 50, y2: h + 50 }],
      [
        { x1: 10.2, y1: 10.7, x2: 11.1, y2: 11.6 },
        { x1: 100, y1: 100, x2: 148, y2: 148 },
      ],
    ];
    const whole = new ort.Tensor('uint8', photo.data, [1, h, w, 3]);
    for (const crop of [models.mtcnn.crop24, models.mtcnn.crop48]) {
      for (const boxes of sets) {
        const scored = boxes.map((b) => ({ ...b, score: 1 }));
        const windowed = (await cropBatch(crop, photo, scored)).data as Float32Array;
        const coords = Float32Array.from(boxes.flatMap((b) => [b.x1, b.y1, b.x2, b.y2]));
        const reference = (
          await crop.run({
            image: whole,
            boxes: new ort.Tensor('float32', coords, [boxes.length, 4]),
            batch: new ort.Tensor('int64', new BigInt64Array(boxes.length), [boxes.length]),
          })
        ).crops!.data as Float32Array;
        expect(windowed.length).toBe(reference.length);
        const worst = windowed.reduce((m, v, i) => Math.max(m, Math.abs(v - reference[i]!)), 0);
        expect(worst, JSON.stringify(boxes)).toBeLessThan(0.01);
      }
    }
  });
});

describe('pyramidScales', () => {
  it('starts at 12/minFaceSize and stops before a level is under 12 pixels', () => {
    const scales = pyramidScales(640, 480, { ...DEFAULT_DETECT_OPTIONS, minFaceSize: 40 });
    expect(scales[0]).toBeCloseTo(0.3);
    expect(480 * scales.at(-1)!).toBeGreaterThanOrEqual(12);
    expect(480 * scales.at(-1)! * DEFAULT_DETECT_OPTIONS.scaleFactor).toBeLessThan(12);
    expect(pyramidScales(640, 480, { ...DEFAULT_DETECT_OPTIONS, minFaceSize: 40, maxScales: 3 })).toEqual(
      scales.slice(0, 3),
    );
  });
});
