// The quality gate, applied after matching: a face judged poor is answered 'Unknown' whatever its best score (a
// blurred, tiny or turned face embeds close to many people, so its best match is a guess). The candidate and
// score stay, so the rich API can show what the guess would have been.
import { assessQuality, type FaceQuality } from '../models/quality.ts';
import { UNKNOWN } from './matcher.ts';
import type { Match } from './types.ts';

/** Why a face is 'Unknown': its quality, or no enrolled person matched it well enough. */
export type UnknownReason = 'poor_quality' | 'no_match';

export interface GatedMatch {
  match: Match;
  /** Judged at the configured limit. */
  quality: FaceQuality;
  /** Set when `match.name` is 'Unknown'. */
  unknownReason?: UnknownReason;
}

/** Judges `quality` at `minQuality` (0 lets every face through) and names a poor face 'Unknown'. */
export function gateByQuality(match: Match, quality: FaceQuality, minQuality: number): GatedMatch {
  const judged = assessQuality(quality.measures, minQuality);
  if (judged.verdict === 'poor') {
    return { match: { ...match, name: UNKNOWN }, quality: judged, unknownReason: 'poor_quality' };
  }
  return { match, quality: judged, ...(match.name === UNKNOWN ? { unknownReason: 'no_match' as const } : {}) };
}
