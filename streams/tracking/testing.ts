// Shared by the tracker's tests: exact embeddings, a real Matcher over them, and detections to feed a tracker.
import { Matcher } from '../../facebank/matcher.ts';
import type { Box } from '../../models/box.ts';
import type { IdentityMatcher } from './identity.ts';
import { FaceTracker } from './tracker.ts';
import type { TrackerOptions } from './trackerOptions.ts';
import type { TrackerDetection, TrackerEvent } from './trackerTypes.ts';

// Embeddings in 5 dimensions, so scores are exact: amy's and raj's templates are axes 0 and 1, and a face's
// embedding is a unit vector at cosine `score` with its person's axis, the rest on an axis of that face's own
// (2: amy, 3: raj, 4: a stranger who looks a little like amy). The real Matcher names them at THRESHOLD.
const THRESHOLD = 0.5;
const bank = new Matcher([
  { person: 'amy', embedding: Float32Array.of(1, 0, 0, 0, 0) },
  { person: 'raj', embedding: Float32Array.of(0, 1, 0, 0, 0) },
]);
const matcher: IdentityMatcher = { match: (e) => bank.match(e, THRESHOLD) };
export const tracker = (options: Partial<TrackerOptions> = {}) => new FaceTracker(matcher, options);

const rest = (score: number) => Math.sqrt(1 - score * score);
export const amy = (score = 0.7) => Float32Array.of(score, 0, rest(score), 0, 0);
export const raj = (score = 0.7) => Float32Array.of(0, score, 0, rest(score), 0);
/** A stranger whose face scores `score` with amy's template. */
export const stranger = (score = 0.3) => Float32Array.of(score, 0, 0, 0, rest(score));

/** A square face of side `size` centred at (cx, cy). */
export function det(cx: number, cy: number, size = 80, embedding?: Float32Array): TrackerDetection {
  const h = size / 2;
  return { box: { x1: cx - h, y1: cy - h, x2: cx + h, y2: cy + h }, score: 0.99, embedding };
}

export function centre(b: Box): [number, number] {
  return [(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2];
}

export function brief(events: TrackerEvent[]): string[] {
  return events.map((e) => `${e.type === 'person_appeared' ? '+' : '-'}${e.name}#${e.trackId}@${e.at}`);
}
