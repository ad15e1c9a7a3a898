// Face quality from what detection and alignment already give: the face's size in source pixels, the blur of
// its aligned crop, its pose from the 5 landmarks and the detector's confidence. A face judged poor should not
// be named (a blurred, tiny or turned face embeds close to many people) nor enrolled as a template.
// Stateless; the limits below were measured on real photos (scripts/quality-measure.ts, README "Face quality").
import { arcfaceTemplate, type Image, type Points, similarityTransform, warpAffine } from './align.ts';

export type QualityReason = 'too_small' | 'blurred' | 'turned_away' | 'low_confidence';

export const QUALITY_REASONS: readonly QualityReason[] = ['too_small', 'blurred', 'turned_away', 'low_confidence'];

/** What was measured on one face. */
export interface QualityMeasures {
  /** Distance between the eye landmarks, in source-image pixels. */
  interOcular: number;
  /** Blur of the aligned grey crop (Crété et al. 2007): 0 sharp … 1 flat; contrast does not change it. */
  blur: number;
  /** Degrees, estimated from the landmarks: yaw > 0 turned towards image right, pitch > 0 looking down. */
  yaw: number;
  pitch: number;
  /** In-plane rotation of the eye line, degrees (alignment undoes it: reported, not judged). */
  roll: number;
  /** The detector's score; undefined for a whole-image face (nothing was detected). */
  confidence: number | undefined;
}

export type QualityComponent = 'size' | 'sharpness' | 'pose' | 'confidence';

export interface FaceQuality {
  /** 0..1: the weakest component. Below the judging limit (0.5 by default) the face is poor. */
  score: number;
  verdict: 'ok' | 'poor';
  /** Why the face is poor; empty when ok. */
  reasons: QualityReason[];
  /** Each component in 0..1; 0.5 is its limit, 1 is comfortably good. */
  components: Record<QualityComponent, number>;
  measures: QualityMeasures;
}

/**
 * Each component's limit (scored 0.5) and the value from which it scores 1, with why (measured by
 * `npm run measure:quality` on the 4,992 LFW dev faces, the 40 BBT people photos and degraded copies of them):
 * - interOcular: under 12 px between the eyes the embedder's 112-px crop (35 px between the eyes) is mostly
 *   interpolation; LFW photos shrunk to that size (1/4) keep only 0.88 cosine with themselves, at 1/5 (9 px)
 *   0.75. The smallest LFW dev face has 15 px, the BBT crops 55.
 * - blur: LFW's own (upscaled, JPEG) faces reach 0.67 at the 99th percentile and 0.71 at the 99.8th; 0.72 is
 *   passed by every LFW face blurred with σ = 3 px (7% of the eye distance) and 65% of those blurred with 2 px.
 * - pose: 50° of estimated yaw or pitch: beyond it one eye is hidden and the landmarks are guesses; 0.24% of
 *   the LFW dev faces (12 of 4,992, all visibly in profile) are past it.
 * - confidence: an O-Net score under 0.9 is rare on a real face (LFW dev: 1 face in 4,992, a blurred 15-px
 *   one) and common on half faces and cut-off faces.
 */
export const QUALITY_LIMITS = {
  interOcular: { limit: 12, good: 20 },
  blur: { limit: 0.72, good: 0.6 },
  pose: { limit: 50, good: 30 },
  confidence: { limit: 0.9, good: 0.98 },
} as const;

/** The judging limit: a face whose weakest component scores below it is poor. */
export const DEFAULT_MIN_QUALITY = 0.5;

const REASON_OF: Record<QualityComponent, QualityReason> = {
  size: 'too_small',
  sharpness: 'blurred',
  pose: 'turned_away',
  confidence: 'low_confidence',
};

/** Side of the aligned crop blur is measured in: the embedder's own view of the face. */
export const QUALITY_CROP = 112;
const TEMPLATE = arcfaceTemplate(QUALITY_CROP);
/** The face inside the aligned crop (cheeks to chin), leaving out background and hair. */
const REGION = { x1: 24, x2: 88, y1: 32, y2: 104 };
/** Length of the re-blurring box filter (Crété et al. use 9 on whole images; the face region is ~64 px). */
const REBLUR = 7;
/** Only the region and the pixels its filters read are warped: 42% of the whole crop's pixels. */
const MARGIN = (REBLUR >> 1) + 1;
const WARP = {
  x: REGION.x1 - MARGIN,
  y: REGION.y1 - MARGIN,
  width: REGION.x2 - REGION.x1 + 2 * MARGIN,
  height: REGION.y2 - REGION.y1 + 2 * MARGIN,
};
/** Nose-tip protrusion from the eye/mouth plane, in inter-ocular distances (adult faces: about 0.5). */
const NOSE_DEPTH = 0.5;
/** The template's nose height between the eye line and the mouth line (0.495) and mouth drop (1.154 IOD). */
const T_EYE_Y = (TEMPLATE[0]![1] + TEMPLATE[1]![1]) / 2;
const T_MOUTH_Y = (TEMPLATE[3]![1] + TEMPLATE[4]![1]) / 2;
const T_NOSE_RATIO = (TEMPLATE[2]![1] - T_EYE_Y) / (T_MOUTH_Y - T_EYE_Y);
const T_MOUTH_DROP = (T_MOUTH_Y - T_EYE_Y) / (TEMPLATE[1]![0] - TEMPLATE[0]![0]);

const DEG = 180 / Math.PI;

/**
 * The face aligned as the embedder sees it (QUALITY_CROP square), as one grey channel, cut to the face region
 * blurMetric reads: pixel (x, y) is the full crop's (x + WARP.x, y + WARP.y).
 */
export function alignedGrey(image: Image, landmarks: Points): Image {
  const [a, b, tx, c, d, ty] = similarityTransform(landmarks, TEMPLATE);
  const rgb = warpAffine(image, [a, b, tx - WARP.x, c, d, ty - WARP.y], WARP.width, WARP.height);
  const { width, height } = WARP;
  const C = image.channels;
  if (C === 1) return { data: rgb, width, height, channels: 1 };
  const n = width * height;
  const grey = new Float32Array(n);
  for (let i = 0, o = 0; i < n; i++, o += C) grey[i] = 0.299 * rgb[o]! + 0.587 * rgb[o + 1]! + 0.114 * rgb[o + 2]!;
  return { data: grey, width, height, channels: 1 };
}

/**
 * The no-reference blur metric of Crété et al. ("The blur effect", 2007) over the face region of a grey crop:
 * re-blur the crop and see how much of its neighbour-to-neighbour variation survives. A sharp face loses a
 * lot (score near 0), an already blurred one loses little (towards 1). Taking the worse of both directions.
 */
export function blurMetric(grey: Image): number {
  const { data, width } = grey;
  if (width !== WARP.width || grey.height !== WARP.height)
    throw new RangeError('blurMetric: not a crop from alignedGrey');
  const x1 = REGION.x1 - WARP.x;
  const y1 = REGION.y1 - WARP.y;
  const x2 = REGION.x2 - WARP.x;
  const y2 = REGION.y2 - WARP.y;
  const half = REBLUR >> 1;
  const dF = [0, 0];
  const dV = [0, 0];
  for (let dir = 0; dir < 2; dir++) {
    // dir 0: vertical differences and a vertical re-blur; dir 1: horizontal.
    const step = dir === 0 ? width : 1;
    let sF = 0;
    let sV = 0;
    for (let y = y1 + 1; y < y2; y++) {
      for (let x = x1 + 1; x < x2; x++) {
        const i = y * width + x;
        const j = i - step;
        let bi = 0;
        let bj = 0;
        for (let k = -half; k <= half; k++) {
          bi += data[i + k * step]!;
          bj += data[j + k * step]!;
        }
        const df = Math.abs(data[i]! - data[j]!);
        const db = Math.abs(bi - bj) / REBLUR;
        sF += df;
        sV += Math.max(0, df - db);
      }
    }
    dF[dir] = sF;
    dV[dir] = sV;
  }
  const b = (k: number) => (dF[k]! > 0 ? (dF[k]! - dV[k]!) / dF[k]! : 1);
  return Math.max(b(0), b(1));
}

/**
 * Yaw, pitch and roll from the 5 landmarks, in degrees. In the eye line's frame (roll undone, lengths in
 * inter-ocular distances): a turned head moves the protruding nose tip sideways from the eye/mouth midline by
 * NOSE_DEPTH·tan(yaw), and a nodding head moves it up or down between the eye and mouth lines.
 */
export function poseFromLandmarks(landmarks: Points): { yaw: number; pitch: number; roll: number; iod: number } {
  const p = (i: number): [number, number] => [landmarks[i]![0]!, landmarks[i]![1]!];
  const [le, re, nose, lm, rm] = [p(0), p(1), p(2), p(3), p(4)];
  const ex = re[0] - le[0];
  const ey = re[1] - le[1];
  const iod = Math.hypot(ex, ey);
  const roll = Math.atan2(ey, ex) * DEG;
  if (!(iod > 0)) return { yaw: 0, pitch: 0, roll, iod: 0 };
  const ux = ex / iod;
  const uy = ey / iod;
  const mx = (le[0] + re[0]) / 2;
  const my = (le[1] + re[1]) / 2;
  // (along the eye line, across it downwards), in inter-ocular distances from the eyes' midpoint.
  const frame = ([x, y]: [number, number]): [number, number] => [
    ((x - mx) * ux + (y - my) * uy) / iod,
    ((x - mx) * -uy + (y - my) * ux) / iod,
  ];
  const n = frame(nose);
  const m = frame([(lm[0] + rm[0]) / 2, (lm[1] + rm[1]) / 2]);
  if (!(m[1] > 0.05)) return { yaw: 0, pitch: 90, roll, iod }; // mouth at or above the eyes: not a usable face
  const midline = m[0] * (n[1] / m[1]);
  const yaw = Math.atan((n[0] - midline) / NOSE_DEPTH) * DEG;
  const pitch = Math.atan(((n[1] / m[1] - T_NOSE_RATIO) * T_MOUTH_DROP) / NOSE_DEPTH) * DEG;
  return { yaw, pitch, roll, iod };
}

export interface QualityInput {
  score: number;
  landmarks: Points;
  /** A whole-image face (nothing detected): its landmarks are the template's, so pose and confidence are unknown. */
  wholeImage?: boolean;
}

/** Measures one face: `grey` is its crop from alignedGrey. */
export function measureQuality(face: QualityInput, grey: Image): QualityMeasures {
  const pose = poseFromLandmarks(face.landmarks);
  const whole = face.wholeImage === true;
  return {
    interOcular: pose.iod,
    blur: blurMetric(grey),
    yaw: whole ? 0 : pose.yaw,
    pitch: whole ? 0 : pose.pitch,
    roll: whole ? 0 : pose.roll,
    confidence: whole ? undefined : face.score,
  };
}

/** 0.5 at `limit`, 1 at `good` and beyond, 0 as far past the limit on the other side. */
function ramp(value: number, limit: number, good: number): number {
  const s = 0.5 + (0.5 * (value - limit)) / (good - limit);
  return Math.min(1, Math.max(0, s));
}

export function qualityComponents(m: QualityMeasures): Record<QualityComponent, number> {
  const L = QUALITY_LIMITS;
  const turn = Math.max(Math.abs(m.yaw), Math.abs(m.pitch));
  return {
    size: ramp(m.interOcular, L.interOcular.limit, L.interOcular.good),
    sharpness: ramp(m.blur, L.blur.limit, L.blur.good),
    pose: ramp(turn, L.pose.limit, L.pose.good),
    confidence: m.confidence === undefined ? 1 : ramp(m.confidence, L.confidence.limit, L.confidence.good),
  };
}

/** The verdict at `minQuality` (0 judges every face ok): poor when any component scores below it. */
export function assessQuality(m: QualityMeasures, minQuality = DEFAULT_MIN_QUALITY): FaceQuality {
  const components = qualityComponents(m);
  const score = Math.min(...Object.values(components));
  const reasons = (Object.keys(REASON_OF) as QualityComponent[])
    .filter((c) => components[c] < minQuality)
    .map((c) => REASON_OF[c]);
  return { score, verdict: reasons.length > 0 ? 'poor' : 'ok', reasons, components, measures: m };
}

/** Measures and judges one face of `image` at the default limit. */
export function faceQuality(image: Image, face: QualityInput): FaceQuality {
  return assessQuality(measureQuality(face, alignedGrey(image, face.landmarks)));
}

/** The reasons in words, with the measured values, for people fixing a photo or reading a log. */
export function qualityMessage(q: FaceQuality): string {
  const m = q.measures;
  const L = QUALITY_LIMITS;
  const words: Record<QualityReason, string> = {
    too_small: `too small (${m.interOcular.toFixed(0)} px between the eyes; ${L.interOcular.limit} at least)`,
    blurred: `blurred (blur ${m.blur.toFixed(2)}; ${L.blur.limit} at most)`,
    turned_away: `turned away (yaw ${m.yaw.toFixed(0)}°, pitch ${m.pitch.toFixed(0)}°; ${L.pose.limit}° at most)`,
    low_confidence: `unsure it is a face (detector score ${(m.confidence ?? 0).toFixed(2)}; ${L.confidence.limit} at least)`,
  };
  return q.reasons.length === 0 ? 'good quality' : `poor face: ${q.reasons.map((r) => words[r]).join(', ')}`;
}

/**
 * Runs the quality code once on a synthetic face, so a fresh worker's first real frames do not pay for compiling
 * it (measured: 19–47 ms on the first two faces, ~1 ms after).
 */
export function warmUpQuality(): void {
  const side = 128;
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 255;
  const landmarks = arcfaceTemplate(side);
  for (let i = 0; i < 3; i++) faceQuality({ data, width: side, height: side, channels: 3 }, { score: 1, landmarks });
}
