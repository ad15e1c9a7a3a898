// One call from an image to faces with boxes, landmarks and embeddings, over sessions opened once.
import type * as ort from 'onnxruntime-node';
import { arcfaceTemplate } from './align.ts';
import { type Box, iou } from './box.ts';
import { type EmbedderShape, type EmbedOptions, embedderShape, embedFaces } from './embedder.ts';
import { byMtcnnGraph, type FaceModelFiles, MTCNN_GRAPHS } from './faceModelFiles.ts';
import { faceSignature, SAME_LOOK_MIN, signatureSimilarity } from './faceSignature.ts';
import type { RgbImage } from './image.ts';
import {
  type DetectedFace,
  type DetectOptions,
  detectFaces,
  type MtcnnSessions,
  type Point,
} from './mtcnn/detector.ts';
import { type FaceQuality, faceQuality } from './quality.ts';
import { openSession, type Provider, type SessionSettings } from './runtime/session.ts';

export interface FaceModels {
  mtcnn: MtcnnSessions;
  embedder: ort.InferenceSession;
  embedderShape: EmbedderShape;
  /** The manifest name of the embedder, part of every cached embedding's key. */
  embedderName: string;
  provider: Provider;
  fallbackReason?: string;
}

export interface AnalyzeOptions {
  detect?: Partial<DetectOptions>;
  /** Skip embeddings when only boxes are wanted. */
  embed?: boolean;
  flip?: EmbedOptions['flip'];
  /**
   * When nothing is detected, look again inside a grey border, and failing that treat the whole image as
   * one face crop (facebank images are often tight crops, on which MTCNN can miss). The whole-image face
   * carries `wholeImage: true` and template landmarks.
   */
  wholeImageFallback?: boolean;
  /**
   * When nothing is detected, look again inside a grey border (implied by wholeImageFallback). Costs a second
   * detection pass, but only on images where the first found nothing: tight face crops, typically.
   */
  retryPadded?: boolean;
  /**
   * Faces already known to the caller (a video tracker's predicted boxes of tracks whose identity is settled):
   * a detected face overlapping one of these by IoU ≥ 0.5 is not embedded (its embedding is empty). Embedding
   * is the costliest step per face, and a settled track needs it only at its periodic re-check. A known face
   * given with its `signature` (and the `signatures` option on) is skipped only while the detection still
   * looks like it (signature similarity ≥ `knownLookAlike`): another face in its place is embedded at once.
   */
  skipEmbeddingNear?: Array<Box & { signature?: Float32Array }>;
  /** See skipEmbeddingNear (default SAME_LOOK_MIN). */
  knownLookAlike?: number;
  /**
   * Embed at most this many faces (the largest first; skipped ones get an empty embedding). Bounds one video
   * frame's cost when many new faces appear at once; the rest are embedded in the next frames.
   */
  maxEmbeddings?: number;
  /** Add each face's appearance signature (faceSignature.ts): a video tracker tells faces apart with it. */
  signatures?: boolean;
}

/** Overlap with a known face's box at which a detection is taken to be that face (see skipEmbeddingNear). */
const KNOWN_FACE_IOU = 0.5;

export interface AnalyzedFace extends DetectedFace {
  /** L2-normalised; empty when embeddings were not asked for, or skipped (see skipEmbeddingNear). */
  embedding: Float32Array;
  /** True when no face was detected and the whole image was used as the face (see wholeImageFallback). */
  wholeImage?: boolean;
  /** With the `signatures` option. */
  signature?: Float32Array;
  /** Always measured (about 0.2 ms a face): size, blur, pose and confidence, and the verdict at the default limit. */
  quality: FaceQuality;
}

/**
 * The face assumed to fill a tight crop: the centred square, with the ArcFace template's landmarks, so
 * alignment maps the crop onto itself.
 */
export function wholeImageFace(width: number, height: number): DetectedFace {
  const side = Math.min(width, height);
  const x1 = (width - side) / 2;
  const y1 = (height - side) / 2;
  const landmarks = arcfaceTemplate(side).map(([x, y]): Point => [x1 + x, y1 + y]);
  return { box: { x1, y1, x2: x1 + side, y2: y1 + side }, score: 0, landmarks };
}

export type AnalyzeTimings = Partial<
  Record<'pyramid' | 'pnet' | 'rnet' | 'onet' | 'align' | 'embed' | 'quality', number>
>;

/** Opens every session of the face models (models/faceModels.ts resolves the files by name). */
export async function openFaceModels(settings: SessionSettings, files: FaceModelFiles): Promise<FaceModels> {
  const open = async (path: string) => (await openSession(path, settings)).session;
  // allSettled: a thread must not post its setup failure (and be terminated) while other sessions are still
  // being created, or onnxruntime's callback into the dead thread aborts the process (see workerPool's retire).
  const opened = await Promise.allSettled(MTCNN_GRAPHS.map((g) => open(files.mtcnn[g])));
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
  const mtcnn = byMtcnnGraph((_, i) => (opened[i] as PromiseFulfilledResult<ort.InferenceSession>).value);
  // The embedder is the heaviest model: its provider is the one reported.
  const embedder = await openSession(files.embedder.path, settings);
  return {
    mtcnn,
    embedder: embedder.session,
    embedderShape: embedderShape(embedder.session),
    embedderName: files.embedder.name,
    provider: embedder.provider,
    ...(embedder.fallbackReason ? { fallbackReason: embedder.fallbackReason } : {}),
  };
}

export async function releaseFaceModels(m: FaceModels): Promise<void> {
  await Promise.all([...Object.values(m.mtcnn), m.embedder].map((s) => s.release()));
}

/** Border added around a tight crop, as a fraction of its longer side, when nothing was detected in it. */
const CROP_PADDING = 0.3;

/**
 * A copy of the image inside a grey border: a face that fills a tight crop (or is cut by its edge) is
 * whole inside it, with the context P-Net needs. Rows are copied in bulk.
 */
export function padImage(image: RgbImage, pad: number): RgbImage {
  const width = image.width + 2 * pad;
  const height = image.height + 2 * pad;
  const data = new Uint8Array(width * height * 3).fill(127);
  const row = image.width * 3;
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * row, (y + 1) * row), ((y + pad) * width + pad) * 3);
  }
  return { data, width, height };
}

function shift(face: DetectedFace, d: number, image: RgbImage): DetectedFace {
  const clip = (v: number, max: number) => Math.min(Math.max(v - d, 0), max);
  const { x1, y1, x2, y2 } = face.box;
  return {
    ...face,
    box: {
      x1: clip(x1, image.width),
      y1: clip(y1, image.height),
      x2: clip(x2, image.width),
      y2: clip(y2, image.height),
    },
    landmarks: face.landmarks.map(([x, y]): Point => [x - d, y - d]),
  };
}

/**
 * With `retryPadded` (or `wholeImageFallback`), an image with no detected face is searched again inside a grey
 * border (tight crops often hide the face from MTCNN); with `wholeImageFallback`, if that also fails, the whole
 * image is taken as the face.
 */
async function findFaces(
  models: FaceModels,
  image: RgbImage,
  options: AnalyzeOptions,
  timings?: AnalyzeTimings,
): Promise<{ faces: DetectedFace[]; source: RgbImage; offset: number; wholeImage: boolean }> {
  const faces = await detectFaces(models.mtcnn, image, options.detect, timings);
  const retry = options.retryPadded === true || options.wholeImageFallback === true;
  if (faces.length > 0 || !retry) return { faces, source: image, offset: 0, wholeImage: false };
  const pad = Math.round(Math.max(image.width, image.height) * CROP_PADDING);
  const padded = padImage(image, pad);
  const inPadding = await detectFaces(models.mtcnn, padded, options.detect, timings);
  if (inPadding.length > 0) return { faces: inPadding, source: padded, offset: pad, wholeImage: false };
  if (options.wholeImageFallback !== true) return { faces: [], source: image, offset: 0, wholeImage: false };
  return { faces: [wholeImageFace(image.width, image.height)], source: image, offset: 0, wholeImage: true };
}

export async function analyze(
  models: FaceModels,
  image: RgbImage,
  options: AnalyzeOptions = {},
  timings?: AnalyzeTimings,
): Promise<AnalyzedFace[]> {
  const { faces, source, offset, wholeImage } = await findFaces(models, image, options, timings);
  const src = { data: source.data, width: source.width, height: source.height, channels: 3 };
  const t = performance.now();
  // Measured in the image the landmarks were found in (the padded copy, for a tight crop).
  const qualities = faces.map((f) => faceQuality(src, { ...f, wholeImage }));
  if (timings) timings.quality = (timings.quality ?? 0) + performance.now() - t;
  let inImage: (DetectedFace & { signature?: Float32Array; quality: FaceQuality })[] = (
    offset === 0 ? faces : faces.map((f) => shift(f, offset, image))
  ).map((f, i) => ({ ...f, quality: qualities[i]! }));
  const marks = wholeImage ? { wholeImage: true } : {};
  if (options.signatures) {
    inImage = inImage.map((f, i) => ({ ...f, signature: faceSignature(src, faces[i]!.landmarks) }));
  }
  // One empty array per face: each result's buffer is transferred on its own from a worker.
  const none = () => new Float32Array(0);
  if (options.embed === false) return inImage.map((f) => ({ ...f, embedding: none(), ...marks }));
  const known = options.skipEmbeddingNear ?? [];
  const lookAlike = options.knownLookAlike ?? SAME_LOOK_MIN;
  const isKnown = (f: DetectedFace & { signature?: Float32Array }, k: (typeof known)[number]): boolean =>
    iou(f.box, k) >= KNOWN_FACE_IOU &&
    (!k.signature || !f.signature || signatureSimilarity(k.signature, f.signature) >= lookAlike);
  // Faces come largest first (detectFaces sorts them), so a budget keeps the largest.
  const wanted = inImage
    .flatMap((f, i) => (known.some((k) => isKnown(f, k)) ? [] : [i]))
    .slice(0, options.maxEmbeddings ?? Number.POSITIVE_INFINITY);
  // Embedded from the image the landmarks were found in (the padded copy keeps the border grey, not black).
  const embeddings = await embedFaces(
    models.embedder,
    models.embedderShape,
    source,
    wanted.map((i) => faces[i]!.landmarks),
    { flip: options.flip ?? false },
    timings,
  );
  const byFace = new Map(wanted.map((i, k) => [i, embeddings[k]!]));
  return inImage.map((f, i) => ({ ...f, embedding: byFace.get(i) ?? none(), ...marks }));
}
