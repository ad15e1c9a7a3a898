// Visits: what the dashboard sees of a track (see the header of tracker.ts for how they begin, continue and end).
import type { Box } from '../types.ts';
import type { BestFace } from './trackerTypes.ts';

/** A visit whose track ended or changed name, held back `cooldownMs` before its left event. */
export interface EndedVisit {
  visitId: number;
  name: string;
  score: number;
  lastSeenAt: number;
  box: Box;
  best: BestFace;
  /** The track's mean embedding: an Unknown visit is continued only by the same face. */
  mean: Float32Array | undefined;
}

export function centreDistanceWithin(a: Box, b: Box, limit: number): boolean {
  const dx = (a[0] + a[2] - b[0] - b[2]) / 2;
  const dy = (a[1] + a[3] - b[1] - b[3]) / 2;
  return dx * dx + dy * dy <= limit * limit;
}
