// Visits: what the dashboard sees of a track (see the header of tracker.ts for how they begin, continue and end).
import type { Box } from '../../models/box.ts';
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
  const dx = (a.x1 + a.x2 - b.x1 - b.x2) / 2;
  const dy = (a.y1 + a.y2 - b.y1 - b.y2) / 2;
  return dx * dx + dy * dy <= limit * limit;
}
