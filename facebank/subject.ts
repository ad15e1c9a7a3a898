// Which face an enrolment photo is about, when it shows several faces of similar size.
//
// A portrait or ID photo frames its subject: the face is large in the picture and the picture is centred on it;
// people close behind are off-centre. A group or scene photo has faces small in the frame, and two people side
// by side leave the centre between them. Only the first case names a subject; the others are refused.
import type { AnalyzedFace } from '../models/analyze.ts';

/**
 * The subject's face must span at least this fraction of the photo's longer side. A head-and-shoulders portrait
 * frames the face at a third to a half of the picture (LFW's portraits: 0.37–0.58); faces in group and scene
 * photos are a fifth or less (the BBT scenes: 0.10–0.16).
 */
export const SUBJECT_MIN_FRAMING = 0.25;

/** The picture's centre must lie on the subject's face: within this many face widths of the face's centre. */
export const SUBJECT_MAX_OFFSET = 0.5;

/**
 * Every other face of similar size must be at least this many (subject) face widths farther from the picture's
 * centre than the subject. Moving the centre by s changes each distance by at most s, so a margin of 1/4 face
 * width keeps the choice the same under any framing shift of up to 1/8 face width (a few pixels for a face of
 * 40): the subject is not picked by a coin toss between two nearly central faces.
 */
export const SUBJECT_MIN_MARGIN = 0.25;

export type SubjectChoice = { face: AnalyzedFace } | { face: undefined; reason: string };

function width(f: AnalyzedFace): number {
  return Math.max(0, f.box.x2 - f.box.x1);
}

function offset(f: AnalyzedFace, cx: number, cy: number): number {
  return Math.hypot((f.box.x1 + f.box.x2) / 2 - cx, (f.box.y1 + f.box.y2) / 2 - cy);
}

/** Picks the subject among `comparable` (two or more faces of similar size) in a width × height picture. */
export function chooseSubject(
  comparable: readonly AnalyzedFace[],
  imageWidth: number,
  imageHeight: number,
): SubjectChoice {
  const cx = imageWidth / 2;
  const cy = imageHeight / 2;
  const byOffset = [...comparable].sort((a, b) => offset(a, cx, cy) - offset(b, cx, cy));
  const subject = byOffset[0];
  const next = byOffset[1];
  if (subject === undefined || next === undefined) throw new RangeError('chooseSubject needs two or more faces');
  const w = width(subject);
  if (w < SUBJECT_MIN_FRAMING * Math.max(imageWidth, imageHeight)) {
    return { face: undefined, reason: 'they are small in the picture, as in a group photo' };
  }
  if (offset(subject, cx, cy) > SUBJECT_MAX_OFFSET * w) {
    return { face: undefined, reason: 'none is at the centre of the picture' };
  }
  if (offset(next, cx, cy) - offset(subject, cx, cy) < SUBJECT_MIN_MARGIN * w) {
    return { face: undefined, reason: 'two are about equally central' };
  }
  return { face: subject };
}
