// One call from an image to faces with boxes, landmarks and embeddings, over sessions opened once.
import type * as ort from 'onnxruntime-node';
import { type EmbedderShape, type EmbedOptions, embedderShape, embedFaces } from './embedder.ts';
import type { RgbImage } from './image.ts';
import { modelPath } from './manifest.ts';
import { type DetectedFace, type DetectOptions, detectFaces, type MtcnnSessions } from './mtcnn/detector.ts';
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
}

export interface AnalyzedFace extends DetectedFace {
  /** L2-normalised; empty when embeddings were not asked for. */
  embedding: Float32Array;
}

export type AnalyzeTimings = Partial<Record<'pyramid' | 'pnet' | 'rnet' | 'onet' | 'align' | 'embed', number>>;

export async function loadFaceModels(settings: SessionSettings, embedderName = 'mobilefacenet'): Promise<FaceModels> {
  const open = (name: string) => openSession(modelPath(name), settings);
  const [pnet, rnet, onet, embedder] = await Promise.all([
    open('pnet'),
    open('rnet'),
    open('onet'),
    open(embedderName),
  ]);
  return {
    mtcnn: { pnet: pnet.session, rnet: rnet.session, onet: onet.session },
    embedder: embedder.session,
    embedderShape: embedderShape(embedder.session),
    embedderName,
    provider: embedder.provider,
    ...(embedder.fallbackReason ? { fallbackReason: embedder.fallbackReason } : {}),
  };
}

export async function releaseFaceModels(m: FaceModels): Promise<void> {
  await Promise.all([m.mtcnn.pnet.release(), m.mtcnn.rnet.release(), m.mtcnn.onet.release(), m.embedder.release()]);
}

export async function analyze(
  models: FaceModels,
  image: RgbImage,
  options: AnalyzeOptions = {},
  timings?: AnalyzeTimings,
): Promise<AnalyzedFace[]> {
  const faces = await detectFaces(models.mtcnn, image, options.detect, timings);
  if (options.embed === false) return faces.map((f) => ({ ...f, embedding: new Float32Array(0) }));
  const embeddings = await embedFaces(
    models.embedder,
    models.embedderShape,
    image,
    faces.map((f) => f.landmarks),
    { flip: options.flip ?? false },
    timings,
  );
  return faces.map((f, i) => ({ ...f, embedding: embeddings[i]! }));
}
