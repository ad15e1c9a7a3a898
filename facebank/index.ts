// The facebank: people folders, the SQLite embeddings cache, the folder watcher, matching and enrolment.
export type { Analyzer } from './analysis.ts';
export { embedOneFace } from './analysis.ts';
export { CALIBRATIONS_PATH, loadCalibration } from './calibration.ts';
export { type ChangeEvent, Facebank, type FacebankOptions, type LoadProgress, MAX_IMAGE_BYTES } from './facebank.ts';
export { UNKNOWN } from './matcher.ts';
export { MAX_NAME_BYTES, MAX_NAME_CHARS } from './names.ts';
export { type GivenNegative, type Negative, type NegativeSource, SAME_FACE_BOUND } from './negatives.ts';
export { deriveOperatingPoint, type OperatingPoint, type ThresholdSource } from './operatingPoint.ts';
export { embeddingKey, SCHEMA } from './store.ts';
export {
  FacebankError,
  type FacebankErrorCode,
  type FacebankImage,
  IMAGE_STATUSES,
  type ImageStatus,
  type Match,
  type PersonSummary,
  type Veto,
} from './types.ts';
