// Recognition: analyse an image in the worker pool, then name each face against the facebank and pass the names
// through the quality gate. Shared by the HTTP API and the CLI, so both answer the same way.
import type { AnalyzeOptions } from '../models/analyze.ts';
import type { DetectedFace } from '../models/mtcnn/detector.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import type { FaceResult } from '../models/pool/faceWorker.ts';
import type { Match } from './index.ts';
import { type GatedMatch, gateByQuality } from './qualityGate.ts';

export interface RecognizedFace extends DetectedFace, GatedMatch {}

export interface Recognition {
  width: number;
  height: number;
  faces: RecognizedFace[];
  timings: FaceResult['timings'] & { match?: number };
}

/** What names an embedding: the facebank (whose templates change), or a `Matcher` over fixed templates. */
export interface FaceNamer {
  match(embedding: Float32Array): Match;
}

/** `minQuality`: faces whose quality scores below it are answered 'Unknown' (0: no quality gate). */
export async function recognizeImage(
  pool: Pick<FacePool, 'analyzeEncoded'>,
  matcher: FaceNamer,
  bytes: Uint8Array,
  maxPixels: number,
  options: AnalyzeOptions,
  minQuality: number,
): Promise<Recognition> {
  const result = await pool.analyzeEncoded(bytes, maxPixels, options);
  const t = performance.now();
  const faces = result.faces.map(({ embedding, signature: _, quality, ...face }) => ({
    ...face,
    ...gateByQuality(matcher.match(embedding), quality, minQuality),
  }));
  return {
    width: result.width,
    height: result.height,
    faces,
    timings: { ...result.timings, match: performance.now() - t },
  };
}
