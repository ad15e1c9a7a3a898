// Compares each converted ONNX model with the reference TFLite interpreter on the same inputs: real face
// crops from ../shared/testdata and random images, at several P-Net sizes and batch sizes.
// Used by models/convert/conversion.test.ts and by `npm run models:check`.
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { CATALOG, type ModelName } from '../../models/catalog.ts';
import { readTflite } from '../../models/convert/tflite.ts';
import { modelPath } from '../../models/manifest.ts';
import { fetchWeights } from '../../models/weights.ts';
import { seededRandom } from './random.ts';
import { PEOPLE, personImage, SCENES } from './testdata.ts';
import { type NdArray, runTflite } from './tfliteInterpreter.ts';

/** An RGB batch in the ONNX models' input layout: [N,H,W,3], values 0..255. */
export interface Batch {
  label: string;
  shape: [number, number, number, number];
  data: Float32Array;
}

export interface CaseResult {
  model: ModelName;
  label: string;
  /** Max |onnx − reference| per output name. */
  maxAbsDiff: Record<string, number>;
}

async function resized(path: string, width: number, height: number): Promise<Float32Array> {
  const buf = await sharp(path).removeAlpha().resize(width, height, { fit: 'fill' }).raw().toBuffer();
  return new Float32Array(buf);
}

async function faceBatch(label: string, size: number, n: number): Promise<Batch> {
  const data = new Float32Array(n * size * size * 3);
  for (let i = 0; i < n; i++) {
    const person = PEOPLE[i % PEOPLE.length]!;
    data.set(await resized(personImage(person, 1 + (i % 5)), size, size), i * size * size * 3);
  }
  return { label, shape: [n, size, size, 3], data };
}

function randomBatch(label: string, shape: [number, number, number, number], seed: number): Batch {
  const next = seededRandom(seed);
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => next() * 255);
  return { label, shape, data };
}

export async function casesFor(model: ModelName): Promise<Batch[]> {
  switch (model) {
    case 'pnet':
      return [
        { label: 'scene 160×120', shape: [1, 120, 160, 3], data: await resized(SCENES[0]!, 160, 120) },
        { label: 'face crop 150×150', shape: [1, 150, 150, 3], data: await resized(personImage('amy', 1), 150, 150) },
        randomBatch('random 12×12', [1, 12, 12, 3], 1),
        randomBatch('random 37×51 (odd)', [1, 37, 51, 3], 2),
        randomBatch('random batch 2, 64×48', [2, 64, 48, 3], 3),
      ];
    case 'rnet':
      return [await faceBatch('8 face crops', 24, 8), randomBatch('random batch 1', [1, 24, 24, 3], 4)];
    case 'onet':
      return [await faceBatch('8 face crops', 48, 8), randomBatch('random batch 3', [3, 48, 48, 3], 5)];
    case 'mobilefacenet':
      return [
        await faceBatch('1 face crop', 112, 1),
        // The reference interpreter takes ~5 s a pair here: 4 faces are a batch above 2 at half the cost of 8.
        await faceBatch('4 face crops', 112, 4),
        randomBatch('random batch 2', [2, 112, 112, 3], 6),
      ];
  }
}

/** The network input the TFLite graph expects for an RGB batch: normalised, and transposed for MTCNN. */
function tfliteInput(model: ModelName, b: Batch): NdArray {
  const { mean, scale, swapHW } = CATALOG[model].convert.preprocess;
  const [n, h, w, c] = b.shape;
  const out = new Float32Array(b.data.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const src = ((i * h + y) * w + x) * c + k;
          const dst = swapHW ? ((i * w + x) * h + y) * c + k : src;
          out[dst] = (b.data[src]! - mean) * scale;
        }
  return { shape: swapHW ? [n, w, h, c] : [n, h, w, c], data: out };
}

/** The ONNX model's input for an RGB batch: as is, or planar for a model fed planar images (P-Net). */
export function onnxInput(model: ModelName, b: Batch): ort.Tensor {
  if (!CATALOG[model].convert.preprocess.planar) return new ort.Tensor('float32', b.data, b.shape);
  const [n, h, w, c] = b.shape;
  const out = new Float32Array(b.data.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + x] = b.data[((i * h + y) * w + x) * c + k]!;
  return new ort.Tensor('float32', out, [n, c, h, w]);
}

/** A reference NHWC output in the ONNX output's layout (NCHW, transposed back for MTCNN). */
function toOnnxLayout(model: ModelName, t: NdArray): NdArray {
  if (t.shape.length !== 4) return t;
  const swap = CATALOG[model].convert.preprocess.swapHW;
  const [n, a, b, c] = t.shape as [number, number, number, number];
  const [h, w] = swap ? [b, a] : [a, b];
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let k = 0; k < c; k++) {
          const src = swap ? ((i * a + x) * b + y) * c + k : ((i * a + y) * b + x) * c + k;
          out[((i * c + k) * h + y) * w + x] = t.data[src]!;
        }
  return { shape: [n, c, h, w], data: out };
}

/** MobileFaceNet's graph hard-codes batch 2, so the reference runs it in pairs (padding an odd batch). */
function referenceBatches(model: ModelName, input: NdArray): NdArray[] {
  if (model !== 'mobilefacenet') return [input];
  const [n, ...rest] = input.shape as [number, number, number, number];
  const per = rest.reduce((a, b) => a * b);
  const pairs: NdArray[] = [];
  for (let i = 0; i < n; i += 2) {
    const data = new Float32Array(2 * per);
    data.set(input.data.subarray(i * per, Math.min(n, i + 2) * per));
    pairs.push({ shape: [2, ...rest], data });
  }
  return pairs;
}

function concatBatches(parts: NdArray[], n: number): NdArray {
  const per = parts[0]!.data.length / parts[0]!.shape[0]!;
  const data = new Float32Array(n * per);
  let offset = 0;
  for (const p of parts) {
    const take = Math.min(p.data.length, data.length - offset);
    data.set(p.data.subarray(0, take), offset);
    offset += take;
  }
  return { shape: [n, ...parts[0]!.shape.slice(1)], data };
}

export async function checkModel(model: ModelName, weights: Uint8Array): Promise<CaseResult[]> {
  const graph = readTflite(weights);
  const session = await ort.InferenceSession.create(modelPath(model), { executionProviders: ['cpu'] });
  const outputNames = Object.entries(CATALOG[model].convert.outputs);
  const results: CaseResult[] = [];
  try {
    for (const batch of await casesFor(model)) {
      const onnx = await session.run({ image: onnxInput(model, batch) });
      const runs = referenceBatches(model, tfliteInput(model, batch)).map((input) => runTflite(graph, [input]));
      const maxAbsDiff: Record<string, number> = {};
      for (const [tfliteName, onnxName] of outputNames) {
        const index = graph.outputs.findIndex((t) => graph.tensors[t]?.name === tfliteName);
        const reference = toOnnxLayout(
          model,
          concatBatches(
            runs.map((r) => r[index]!),
            batch.shape[0],
          ),
        );
        const actual = onnx[onnxName]!;
        if (actual.dims.join() !== reference.shape.join()) {
          throw new Error(`${model} ${onnxName}: ONNX shape [${actual.dims}] ≠ reference [${reference.shape}]`);
        }
        const a = actual.data as Float32Array;
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - reference.data[i]!));
        maxAbsDiff[onnxName] = max;
      }
      results.push({ model, label: batch.label, maxAbsDiff });
    }
  } finally {
    await session.release();
  }
  return results;
}

/** The four TFLite files, fetched through the same integrity-checked path the build uses. */
export async function loadWeights(): Promise<Map<ModelName, Uint8Array>> {
  const files = await fetchWeights(Object.values(CATALOG));
  return new Map((Object.keys(CATALOG) as ModelName[]).map((m) => [m, files.get(CATALOG[m].source)!]));
}
