// Recognition of one encoded image with the configured detection and quality settings: the HTTP routes and the
// Frigate ingest answer the same way.
import type { Facebank } from '../facebank/index.ts';
import { type Recognition, recognizeImage } from '../facebank/recognize.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import type { Config } from './config.ts';

export type Recognizer = (bytes: Uint8Array) => Promise<Recognition>;

export function recognizerFor(config: Config, pool: FacePool, facebank: Facebank): Recognizer {
  return (bytes) =>
    recognizeImage(
      pool,
      facebank,
      bytes,
      config.maxImagePixels,
      { detect: { minFaceSize: config.minFaceSize, maxFaces: config.maxFaces }, flip: config.flip, retryPadded: true },
      config.minFaceQuality,
    );
}
