// One call from an image to faces with boxes, landmarks and embeddings, over sessions opened once.
import type * as ort from 'onnxruntime-node';
import { arcfaceTemplate } from './align.ts';
import { type EmbedderShape, type EmbedOptions, embedderShape, embedFaces } from './embedder.ts';
import type { RgbImage } from './image.ts';
import { modelPath } from './manifest.ts';
import {
  type DetectedFace,
  type DetectOptions,
  detectFaces,
  type MtcnnSessions,
  type Point,
} from './mtcnn/detector.ts';
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
   * When nothing is detected, treat the whole image as one face crop (facebank images are often tight
   * crops, on which MTCNN can miss). The face then carries `wholeImage: true` and template landmarks.
   */
  wholeImageFallback?: boolean;
}

export interface AnalyzedFace extends DetectedFace {
  /** L2-normalised; empty when embeddings were not asked for. */
  embedding: Float32Array;
  /** True when no face was detected and the whole image was used as the face (see wholeImageFallback). */
  wholeImage?: boolean;
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

export type AnalyzeTimings = Partial<Record<'pyramid' | 'pnet' | 'rnet' | 'onet' | 'align' | 'embed', number>>;

export async function loadFaceModels(settings: SessionSettings, embedderName = 'mobilefacenet'): Promise<FaceModels> {
  const open = async (name: string) => (await openSession(modelPath(name), settings)).session;
  const [resize, crop24, crop48, pnet, rnet, onet] = await Promise.all(
    ['resize', 'crop24', 'crop48', 'pnet', 'rnet', 'onet'].map(open),
  );
  // The embedder is the heaviest model: its provider is the one reported.
  const embedder = await openSession(modelPath(embedderName), settings);
  return {
    mtcnn: { resize: resize!, crop24: crop24!, crop48: crop48!, pnet: pnet!, rnet: rnet!, onet: onet! },
    embedder: embedder.session,
    embedderShape: embedderShape(embedder.session),
    embedderName,
    provider: embedder.provider,
    ...(embedder.fallbackReason ? { fallbackReason: embedder.fallbackReason } : {}),
  };
}

export async function releaseFaceModels(m: FaceModels): Promise<void> {
  await Promise.all([...Object.values(m.mtcnn), m.embedder].map((s) => s.release()));
}

export async function analyze(
  models: FaceModels,
  image: RgbImage,
  options: AnalyzeOptions = {},
  timings?: AnalyzeTimings,
): Promise<AnalyzedFace[]> {
  const detected = await detectFaces(models.mtcnn, image, options.detect, timings);
  const fallback = detected.length === 0 && options.wholeImageFallback === true;
  const faces = fallback ? [wholeImageFace(image.width, image.height)] : detected;
  if (options.embed === false) return faces.map((f) => ({ ...f, embedding: new Float32Array(0) }));
  const embeddings = await embedFaces(
    models.embedder,
    models.embedderShape,
    image,
    faces.map((f) => f.landmarks),
    { flip: options.flip ?? false },
    timings,
  );
  return faces.map((f, i) => ({ ...f, embedding: embeddings[i]!, ...(fallback ? { wholeImage: true } : {}) }));
}
