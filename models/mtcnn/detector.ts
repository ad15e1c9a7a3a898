// The MTCNN cascade (Zhang et al. 2016): P-Net over an image pyramid proposes windows, R-Net refines
// them, O-Net scores them and places 5 landmarks. Stateless: sessions come in, faces come out.
import * as ort from 'onnxruntime-node';
import type { Box } from '../box.ts';
import type { RgbImage } from '../image.ts';
import { calibrate, clipToImage, nms, type ScoredBox, square } from './boxes.ts';

export interface MtcnnSessions {
  /** Generated pixel graphs (models/convert/pixelGraphs.ts): the pyramid's base and levels, and box crops. */
  planar: ort.InferenceSession;
  base: ort.InferenceSession;
  resize: ort.InferenceSession;
  crop24: ort.InferenceSession;
  crop48: ort.InferenceSession;
  pnet: ort.InferenceSession;
  rnet: ort.InferenceSession;
  onet: ort.InferenceSession;
}

export interface DetectOptions {
  /** Smallest face, in pixels, the pyramid looks for. */
  minFaceSize: number;
  /** Ratio between pyramid levels. */
  scaleFactor: number;
  /** Score thresholds for P-Net, R-Net and O-Net. */
  thresholds: [number, number, number];
  /** At most this many faces, largest first; 0 for no limit. */
  maxFaces: number;
  /** At most this many pyramid levels, from the largest scale down; 0 for no limit. */
  maxScales: number;
  /**
   * At most this many P-Net candidates (the highest-scoring) go on to R-Net; 0 for no limit. R-Net's and
   * O-Net's cost grows with the candidates, and a cluttered frame can have hundreds.
   */
  maxCandidates: number;
  /** IoU above which P-Net candidates of different pyramid levels are merged (MTCNN's original: 0.7). */
  crossScaleNms: number;
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = {
  minFaceSize: 20,
  scaleFactor: 0.709,
  thresholds: [0.6, 0.7, 0.7],
  maxFaces: 0,
  maxScales: 0,
  maxCandidates: 0,
  crossScaleNms: 0.7,
};

export type Point = [number, number];

export interface DetectedFace {
  box: Box;
  score: number;
  /** Left eye, right eye, nose, left and right mouth corners (image left/right), in image pixels. */
  landmarks: Point[];
}

/** Milliseconds spent per stage, accumulated into a caller's record when one is passed. */
export type StageTimings = Partial<Record<'pyramid' | 'pnet' | 'rnet' | 'onet', number>>;

const CELL = 12;
/** A pyramid base is made only when it is at most this fraction of the image's size (see pyramidBase). */
const BASE_MAX_SCALE = 0.7;
const STRIDE = 2;
const PNET_NMS = 0.5;
const RNET_NMS = 0.7;
const ONET_NMS = 0.7;

/** Pyramid scales: the first maps minFaceSize to P-Net's 12-pixel window; stop before the image is under 12. */
export function pyramidScales(width: number, height: number, o: DetectOptions): number[] {
  const scales: number[] = [];
  const first = CELL / o.minFaceSize;
  for (let s = first; Math.min(width, height) * s >= CELL; s *= o.scaleFactor) {
    if (o.maxScales > 0 && scales.length === o.maxScales) break;
    scales.push(s);
  }
  return scales;
}

/**
 * The image the pyramid levels are resized from, planar float32 (P-Net's input layout), made once per image. A
 * level costs about one pass over its source whatever its own size, so when even the largest level is under half
 * the image (a large minFaceSize, e.g. on video frames), the levels are resized from one copy at twice that
 * level's scale. A factor of two keeps every level's filter footprint over several source pixels, so the levels
 * match those made from the original closely. onnxruntime makes that copy, from the uint8 image in one graph: with
 * one libvips thread per operation, as the pool's workers run, a libvips copy cast by the `planar` graph made
 * detection 0.9–1.5 ms slower at 640×480 and no faster at 1280×720 (paired runs, minFaceSize 40).
 */
async function pyramidBase(s: MtcnnSessions, image: RgbImage, firstScale: number): Promise<ort.Tensor> {
  const pixels = new ort.Tensor('uint8', image.data, [1, image.height, image.width, 3]);
  const scale = 2 * firstScale;
  if (scale > BASE_MAX_SCALE) return (await s.planar.run({ image: pixels })).planar!;
  const width = Math.max(CELL, Math.round(image.width * scale));
  const height = Math.max(CELL, Math.round(image.height * scale));
  const size = new ort.Tensor('int64', BigInt64Array.of(BigInt(height), BigInt(width)), [2]);
  return (await s.base.run({ image: pixels, size })).base!;
}

function lap(timings: StageTimings | undefined, stage: keyof StageTimings, since: number): number {
  const now = performance.now();
  if (timings) timings[stage] = (timings[stage] ?? 0) + now - since;
  return now;
}

/** Stage 1: P-Net windows above threshold at every scale, each scale's set reduced by NMS. */
async function proposals(s: MtcnnSessions, image: RgbImage, o: DetectOptions, t?: StageTimings): Promise<ScoredBox[]> {
  const scales = pyramidScales(image.width, image.height, o);
  const all: (ScoredBox & { reg: [number, number, number, number] })[] = [];
  let now = performance.now();
  const base = await pyramidBase(s, image, scales[0] ?? 1);
  for (const scale of scales) {
    const w = Math.ceil(image.width * scale);
    const h = Math.ceil(image.height * scale);
    const size = new ort.Tensor('int64', BigInt64Array.of(BigInt(h), BigInt(w)), [2]);
    const level = (await s.resize.run({ image: base, size })).resized!;
    now = lap(t, 'pyramid', now);
    const out = await s.pnet.run({ image: level });
    const prob = out.prob!;
    const reg = out.reg!.data as Float32Array;
    const [, , oh, ow] = prob.dims as [number, number, number, number];
    const face = (prob.data as Float32Array).subarray(oh * ow); // channel 1 = face
    const plane = oh * ow;
    const found: (ScoredBox & { reg: [number, number, number, number] })[] = [];
    for (let i = 0; i < plane; i++) {
      const score = face[i]!;
      if (score < o.thresholds[0]) continue;
      const x = i % ow;
      const y = (i - x) / ow;
      found.push({
        x1: (STRIDE * x) / scale,
        y1: (STRIDE * y) / scale,
        x2: (STRIDE * x + CELL) / scale,
        y2: (STRIDE * y + CELL) / scale,
        score,
        reg: [reg[i]!, reg[plane + i]!, reg[2 * plane + i]!, reg[3 * plane + i]!],
      });
    }
    for (const k of nms(found, PNET_NMS, 'union')) all.push(found[k]!);
    now = lap(t, 'pnet', now);
  }
  // nms lists what it keeps by descending score, so the cap keeps the most face-like candidates.
  const order = nms(all, o.crossScaleNms, 'union');
  const kept = (o.maxCandidates > 0 ? order.slice(0, o.maxCandidates) : order).map((k) => all[k]!);
  return kept.map((b) => square(calibrate({ x1: b.x1, y1: b.y1, x2: b.x2, y2: b.y2, score: b.score }, b.reg)));
}

/**
 * Pixels around the boxes' bounding window that the crops may read: RoiAlign samples at most half a pixel
 * outside a box and reads the next pixel for its bilinear weights, so two pixels keep every read inside the
 * window and away from its edges, where RoiAlign would clamp or read zeros as it does at the image's own edges.
 */
const WINDOW_MARGIN = 2;

/**
 * Crops every box (zero outside the image), shrunk to the network's input, as one planar batch. The crop graph
 * makes a float planar copy of its input, so it gets only the boxes' bounding window (rows copied in bulk),
 * not the whole image: O-Net's few boxes round one face read a few percent of a frame, and each full-size float
 * copy is megabytes of fresh memory per call.
 */
export async function cropBatch(crop: ort.InferenceSession, image: RgbImage, boxes: ScoredBox[]): Promise<ort.Tensor> {
  let [x1, y1, x2, y2] = [image.width, image.height, 0, 0];
  for (const b of boxes) {
    x1 = Math.min(x1, Math.floor(b.x1) - WINDOW_MARGIN);
    y1 = Math.min(y1, Math.floor(b.y1) - WINDOW_MARGIN);
    x2 = Math.max(x2, Math.ceil(b.x2) + WINDOW_MARGIN);
    y2 = Math.max(y2, Math.ceil(b.y2) + WINDOW_MARGIN);
  }
  [x1, y1] = [Math.max(0, x1), Math.max(0, y1)];
  [x2, y2] = [Math.max(x1 + 1, Math.min(image.width, x2)), Math.max(y1 + 1, Math.min(image.height, y2))];
  const width = x2 - x1;
  const height = y2 - y1;
  let data = image.data;
  if (width < image.width || height < image.height) {
    data = new Uint8Array(width * height * 3);
    for (let y = 0; y < height; y++) {
      const from = ((y1 + y) * image.width + x1) * 3;
      data.set(image.data.subarray(from, from + width * 3), y * width * 3);
    }
  }
  const coords = new Float32Array(boxes.length * 4);
  for (const [i, b] of boxes.entries()) coords.set([b.x1 - x1, b.y1 - y1, b.x2 - x1, b.y2 - y1], i * 4);
  const out = await crop.run({
    image: new ort.Tensor('uint8', data, [1, height, width, 3]),
    boxes: new ort.Tensor('float32', coords, [boxes.length, 4]),
    batch: new ort.Tensor('int64', new BigInt64Array(boxes.length), [boxes.length]),
  });
  return out.crops!;
}

/**
 * Crops per R-Net or O-Net run. A frame can have hundreds of candidates; in runs of 32 both nets were faster
 * (128 crops: R-Net 17.8 against 24.7 ms, O-Net 85 against 130 ms, 1 thread), and the freed intermediate tensors
 * of one huge batch no longer stay in glibc's arenas (random batches of 1–200 took an O-Net process from 302 to
 * 392 MB RSS; of 1–32, 188–209 MB).
 */
const NET_BATCH = 32;

/** Runs R-Net or O-Net over a batch of crops in runs of NET_BATCH; every output is batch-first. */
async function runNet(session: ort.InferenceSession, crops: ort.Tensor): Promise<Record<string, Float32Array>> {
  const [k, c, h, w] = crops.dims as [number, number, number, number];
  const per = c * h * w;
  const data = crops.data as Float32Array;
  const parts = new Map<string, Float32Array[]>();
  for (let start = 0; start < k; start += NET_BATCH) {
    const n = Math.min(NET_BATCH, k - start);
    const out = await session.run({
      image: new ort.Tensor('float32', data.subarray(start * per, (start + n) * per), [n, c, h, w]),
    });
    for (const [name, t] of Object.entries(out)) parts.set(name, [...(parts.get(name) ?? []), t.data as Float32Array]);
  }
  const joined: Record<string, Float32Array> = {};
  for (const [name, list] of parts) {
    const all = new Float32Array(list.reduce((sum, p) => sum + p.length, 0));
    let at = 0;
    for (const p of list) {
      all.set(p, at);
      at += p.length;
    }
    joined[name] = all;
  }
  return joined;
}

/** Stage 2: R-Net rescoring and box regression. */
async function refine(s: MtcnnSessions, image: RgbImage, boxes: ScoredBox[], o: DetectOptions): Promise<ScoredBox[]> {
  if (boxes.length === 0) return [];
  const out = await runNet(s.rnet, await cropBatch(s.crop24, image, boxes));
  const prob = out.prob!;
  const reg = out.reg!;
  const kept: ScoredBox[] = [];
  const regs: [number, number, number, number][] = [];
  boxes.forEach((b, i) => {
    const score = prob[2 * i + 1]!;
    if (score < o.thresholds[1]) return;
    kept.push({ ...b, score });
    regs.push([reg[4 * i]!, reg[4 * i + 1]!, reg[4 * i + 2]!, reg[4 * i + 3]!]);
  });
  return nms(kept, RNET_NMS, 'union').map((k) => square(calibrate(kept[k]!, regs[k]!)));
}

/** Stage 3: O-Net scoring, box regression and landmarks. */
async function output(
  s: MtcnnSessions,
  image: RgbImage,
  boxes: ScoredBox[],
  o: DetectOptions,
): Promise<DetectedFace[]> {
  if (boxes.length === 0) return [];
  const out = await runNet(s.onet, await cropBatch(s.crop48, image, boxes));
  const prob = out.prob!;
  const reg = out.reg!;
  const lm = out.landmarks!;
  const faces: (ScoredBox & { landmarks: Point[] })[] = [];
  boxes.forEach((b, i) => {
    const score = prob[2 * i + 1]!;
    if (score < o.thresholds[2]) return;
    const w = b.x2 - b.x1;
    const h = b.y2 - b.y1;
    // O-Net gives the five x offsets, then the five y offsets, as fractions of the (square) input box.
    const landmarks = Array.from(
      { length: 5 },
      (_, k): Point => [b.x1 + lm[10 * i + k]! * w, b.y1 + lm[10 * i + 5 + k]! * h],
    );
    // Squared like every earlier stage's output, so a face's box does not depend on its aspect in O-Net's
    // regression (the face-api.js reference does the same; the original MATLAB code left it rectangular).
    const box = square(calibrate(b, [reg[4 * i]!, reg[4 * i + 1]!, reg[4 * i + 2]!, reg[4 * i + 3]!]));
    faces.push({ ...box, score, landmarks });
  });
  return nms(faces, ONET_NMS, 'min').map((k) => {
    const f = clipToImage(faces[k]!, image.width, image.height);
    return { box: { x1: f.x1, y1: f.y1, x2: f.x2, y2: f.y2 }, score: f.score, landmarks: f.landmarks };
  });
}

export async function detectFaces(
  sessions: MtcnnSessions,
  image: RgbImage,
  options: Partial<DetectOptions> = {},
  timings?: StageTimings,
): Promise<DetectedFace[]> {
  const o = { ...DEFAULT_DETECT_OPTIONS, ...options };
  const stage1 = await proposals(sessions, image, o, timings);
  let now = performance.now();
  const stage2 = await refine(sessions, image, stage1, o);
  now = lap(timings, 'rnet', now);
  const faces = (await output(sessions, image, stage2, o)).filter((f) => f.box.x2 > f.box.x1 && f.box.y2 > f.box.y1);
  lap(timings, 'onet', now);
  const area = (f: DetectedFace) => (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
  faces.sort((a, b) => area(b) - area(a));
  return o.maxFaces > 0 ? faces.slice(0, o.maxFaces) : faces;
}
