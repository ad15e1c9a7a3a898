// One facebank image → status and embedding, by the rules for crops, whole photos and undecodable files.
import type { AnalyzedFace, AnalyzeOptions } from '../models/analyze.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import type { CachedAnalysis } from './store.ts';
import { chooseSubject } from './subject.ts';
import { FacebankError } from './types.ts';

export type Analyzer = Pick<FacePool, 'analyzeEncoded'>;

export interface AnalysisSettings {
  maxPixels: number;
  flip: boolean;
}

/** The second face must be at least this fraction of the largest face's area for the image to be rejected. */
export const COMPARABLE_FACE_AREA = 0.5;

export const CROP_FALLBACK_MESSAGE = 'no face detected; the image was used as a face crop';

export function analyzeOptions(flip: boolean): AnalyzeOptions {
  return { wholeImageFallback: true, detect: { minFaceSize: 20 }, flip };
}

function area(f: AnalyzedFace): number {
  return Math.max(0, f.box.x2 - f.box.x1) * Math.max(0, f.box.y2 - f.box.y1);
}

/**
 * Bumped whenever classifyFaces decides differently, so that analyses cached under older rules (keyed with it, see
 * FacebankStore) are redone rather than served. 2: a clear subject among several faces is enrolled.
 */
export const ANALYSIS_RULES_VERSION = 2;

/**
 * Applies the rules to the faces found in one width × height image (largest first or not). Several faces of
 * similar size are refused unless the photo clearly frames one of them (facebank/subject.ts).
 */
export function classifyFaces(faces: readonly AnalyzedFace[], imageWidth: number, imageHeight: number): CachedAnalysis {
  if (faces.length === 0) {
    // Cannot happen with wholeImageFallback; kept so the rules are total.
    return { status: 'invalid_image', message: 'no face detected', embedding: undefined, quality: undefined };
  }
  const sorted = [...faces].sort((a, b) => area(b) - area(a));
  const largest = sorted[0]!;
  if (largest.wholeImage === true) {
    const { embedding, quality } = largest;
    return { status: 'crop_fallback', message: CROP_FALLBACK_MESSAGE, embedding, quality: quality.measures };
  }
  const comparable = sorted.filter((f) => area(f) >= COMPARABLE_FACE_AREA * area(largest));
  if (comparable.length >= 2) {
    const choice = chooseSubject(comparable, imageWidth, imageHeight);
    const subject = choice.face;
    if (subject !== undefined) {
      return {
        status: 'embedded',
        message: undefined,
        embedding: subject.embedding,
        quality: subject.quality.measures,
      };
    }
    return {
      status: 'several_faces',
      message: `${comparable.length} faces of similar size and none is clearly the subject (${choice.reason}); crop the image to one person`,
      embedding: undefined,
      quality: undefined,
    };
  }
  return { status: 'embedded', message: undefined, embedding: largest.embedding, quality: largest.quality.measures };
}

/**
 * Analyses encoded bytes through the pool. Decoder failures become 'invalid_image' (a property of the
 * content, so they are cached); anything else (overload, a crashed or closed pool) is thrown.
 */
export async function analyzeImage(
  analyzer: Analyzer,
  bytes: Uint8Array,
  settings: AnalysisSettings,
): Promise<CachedAnalysis> {
  try {
    const result = await analyzer.analyzeEncoded(bytes, settings.maxPixels, analyzeOptions(settings.flip));
    return classifyFaces(result.faces, result.width, result.height);
  } catch (err) {
    if (err instanceof Error && err.name === 'ImageDecodeError') {
      return { status: 'invalid_image', message: err.message, embedding: undefined, quality: undefined };
    }
    throw err;
  }
}

/**
 * The embedding of the one face an image is about (an event's crop, an uploaded photo): its largest face, or the
 * whole image when no face is detected. Decoder failures become FacebankError('invalid_image').
 */
export async function embedOneFace(
  analyzer: Analyzer,
  bytes: Uint8Array,
  settings: AnalysisSettings,
): Promise<Float32Array> {
  let faces: readonly AnalyzedFace[];
  try {
    faces = (await analyzer.analyzeEncoded(bytes, settings.maxPixels, analyzeOptions(settings.flip))).faces;
  } catch (err) {
    if (err instanceof Error && err.name === 'ImageDecodeError') throw new FacebankError('invalid_image', err.message);
    throw err;
  }
  const largest = [...faces].sort((a, b) => area(b) - area(a))[0];
  if (largest === undefined) throw new FacebankError('no_face', 'no face was found in the image');
  return largest.embedding;
}
