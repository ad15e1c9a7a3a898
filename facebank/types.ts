// Public types of the facebank and its one error class.

/** What analysing an image found (cached per content and model). */
import { CodedError } from '../models/codedError.ts';
export type AnalysisStatus = 'embedded' | 'crop_fallback' | 'several_faces' | 'invalid_image';

export const ANALYSIS_STATUSES: readonly AnalysisStatus[] = [
  'embedded',
  'crop_fallback',
  'several_faces',
  'invalid_image',
];

/**
 * An image's status: its analysis, or 'poor_quality' for a face found but too poor to be a template (judged from
 * the cached quality at the configured limit, so changing the limit needs no new analysis).
 */
export type ImageStatus = AnalysisStatus | 'poor_quality';

export const IMAGE_STATUSES: readonly ImageStatus[] = [...ANALYSIS_STATUSES, 'poor_quality'];

export interface FacebankImage {
  person: string;
  file: string;
  status: ImageStatus;
  /** Why the image was used as a crop, flagged or rejected; absent for 'embedded'. */
  message?: string;
  sha256: string;
}

export interface PersonSummary {
  name: string;
  /** Sorted by file name. */
  images: FacebankImage[];
}

export interface Match {
  /** The best person, or 'Unknown' when the score is below the threshold (or there is nobody to match). */
  name: string;
  /** The best person even when `name` is 'Unknown'; undefined only when the facebank has no templates. */
  candidate: string | undefined;
  /**
   * Cosine similarity with the candidate's template (the normalised mean of their images' embeddings); 0 when
   * there are no templates.
   */
  score: number;
  /**
   * `score` minus the best score of the next different person; 1 when only one person has templates (no
   * competitor), 0 when there are no templates.
   */
  margin: number;
  /** The threshold in force: `name` is the candidate when `score` reaches it (see operatingPoint.ts). */
  threshold: number;
  /**
   * Candidates passed over because the face is the same face as one of their negative examples ("not this
   * person"), best first; absent when none was.
   */
  vetoed?: Veto[];
}

/** Why a face was not given a candidate's name (facebank/negatives.ts). */
export interface Veto {
  /** The person whose name was withheld. */
  person: string;
  negativeId: number;
  /** Cosine with that negative. */
  similarity: number;
  /** Best cosine with the person's own templates (lower than `similarity`). */
  personSimilarity: number;
}

export type FacebankErrorCode =
  | 'invalid_name'
  | 'person_exists'
  | 'person_not_found'
  | 'image_not_found'
  | 'invalid_image'
  | 'several_faces'
  | 'no_face'
  | 'negative_not_found'
  | 'poor_quality';

export class FacebankError extends CodedError<FacebankErrorCode> {
  override name = 'FacebankError';
}
