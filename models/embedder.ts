// Face embeddings: align each face to the ArcFace template from its 5 landmarks, run the embedder on the
// batch, and L2-normalise. Works with any embedder whose input is an RGB batch [N,S,S,3] and whose output
// is [N,D]; S, D and a fixed batch size (if the model has one) are read from the model itself.
import * as ort from 'onnxruntime-node';
import { arcfaceTemplate, similarityTransform, warpAffine } from './align.ts';
import type { RgbImage } from './image.ts';
import type { Point } from './mtcnn/detector.ts';

export interface EmbedderShape {
  /** Side of the square aligned crop. */
  size: number;
  /** Embedding length. */
  dim: number;
  /** The model's fixed batch size, or undefined when the batch is dynamic. */
  fixedBatch: number | undefined;
}

export class EmbedderShapeError extends Error {
  override name = 'EmbedderShapeError';
}

export function embedderShape(session: ort.InferenceSession): EmbedderShape {
  const input = session.inputMetadata[0];
  const output = session.outputMetadata[0];
  if (!input?.isTensor || !output?.isTensor)
    throw new EmbedderShapeError('the embedder must have tensor input and output');
  const [batch, h, w, c] = input.shape;
  if (input.shape.length !== 4 || c !== 3 || typeof h !== 'number' || h !== w) {
    throw new EmbedderShapeError(`embedder input must be [N,S,S,3] with a fixed S, got [${input.shape}]`);
  }
  const dim = output.shape[1];
  if (output.shape.length !== 2 || typeof dim !== 'number') {
    throw new EmbedderShapeError(`embedder output must be [N,D] with a fixed D, got [${output.shape}]`);
  }
  return { size: h, dim, fixedBatch: typeof batch === 'number' ? batch : undefined };
}

export interface EmbedOptions {
  /** Add the mirrored crop's embedding before normalising (test-time augmentation; twice the compute). */
  flip: boolean;
}

export type StageTimings = Partial<Record<'align' | 'embed', number>>;

/**
 * Faces per run when the model's batch is dynamic. Small batches were faster at one thread (16 faces: 168 ms in
 * four runs of 4, 215 ms in one), and the intermediate tensors of big ones (up to 13 MB each at 16 faces) stay in
 * glibc's arenas once freed: random batches of 1–16 faces took an embedder process from 407 to 448 MB RSS over
 * 3,000 runs, batches of 1–4 held 199–223 MB.
 */
const MAX_BATCH = 4;

/** Runs the model on `crops` ([n,S,S,3]) in chunks: the model's fixed batch (padded), or MAX_BATCH faces. */
async function run(
  session: ort.InferenceSession,
  shape: EmbedderShape,
  crops: Float32Array,
  n: number,
): Promise<Float32Array> {
  const per = shape.size * shape.size * 3;
  const inputName = session.inputNames[0]!;
  const outputName = session.outputNames[0]!;
  const chunk = shape.fixedBatch ?? MAX_BATCH;
  const out = new Float32Array(n * shape.dim);
  for (let start = 0; start < n; start += chunk) {
    const count = Math.min(chunk, n - start);
    const batch = shape.fixedBatch ?? count;
    let data = crops.subarray(start * per, (start + count) * per);
    if (count < batch) {
      const padded = new Float32Array(batch * per);
      padded.set(data);
      data = padded;
    }
    const result = await session.run({
      [inputName]: new ort.Tensor('float32', data, [batch, shape.size, shape.size, 3]),
    });
    out.set((result[outputName]!.data as Float32Array).subarray(0, count * shape.dim), start * shape.dim);
  }
  return out;
}

/**
 * The aligned crops the embedder takes ([n,S,S,3], 0..255), face i at i; with `flip`, the mirrored crops follow
 * (face i at n + i). Also what int8 calibration feeds the float model (scripts/calibrate-int8.ts).
 */
export function alignedCrops(image: RgbImage, size: number, landmarks: Point[][], flip: boolean): Float32Array {
  const n = landmarks.length;
  const per = size * size * 3;
  const crops = new Float32Array((flip ? 2 : 1) * n * per);
  const src = { data: image.data, width: image.width, height: image.height, channels: 3 };
  const template = arcfaceTemplate(size);
  landmarks.forEach((points, i) => {
    const m = similarityTransform(points, template);
    warpAffine(src, m, size, size, crops, i * per);
    if (flip) warpAffine(src, m, size, size, crops, (n + i) * per, true);
  });
  return crops;
}

export async function embedFaces(
  session: ort.InferenceSession,
  shape: EmbedderShape,
  image: RgbImage,
  landmarks: Point[][],
  options: EmbedOptions,
  timings?: StageTimings,
): Promise<Float32Array[]> {
  const n = landmarks.length;
  if (n === 0) return [];
  let t = performance.now();
  const { size, dim } = shape;
  const copies = options.flip ? 2 : 1;
  const crops = alignedCrops(image, size, landmarks, options.flip);
  if (timings) timings.align = (timings.align ?? 0) + performance.now() - t;
  t = performance.now();

  const raw = await run(session, shape, crops, copies * n);
  const embeddings = Array.from({ length: n }, (_, i) => {
    const e = raw.slice(i * dim, (i + 1) * dim);
    if (options.flip) for (let k = 0; k < dim; k++) e[k]! += raw[(n + i) * dim + k]!;
    let norm = 0;
    for (let k = 0; k < dim; k++) norm += e[k]! * e[k]!;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let k = 0; k < dim; k++) e[k]! *= inv;
    return e;
  });
  if (timings) timings.embed = (timings.embed ?? 0) + performance.now() - t;
  return embeddings;
}
