// Whether and where a camera's frame is worth a face detection: the motion gate. Decided as each frame arrives
// (before the scheduler), from the frame's motion, the tracker's live tracks and the camera's detection region:
// - no motion and no live track: no detection at all (the frame costs its decode and the motion check);
// - motion or live tracks: detection in the box around the moving regions and the tracks, each with a margin,
//   or in the whole frame (within the region) when that box is large. One box, so one frame stays one call to
//   the pool and the scheduler's slot accounting holds;
// - the first frame, or one that changed almost everywhere (a cut, lights): the whole frame, once.
// There is no "motion confirmed" wait: the first frame with motion is analysed.

import { area, type Box } from '../../models/box.ts';
import { MotionDetector, type MotionResult } from '../motion/detector.ts';
import { boundsOf, type Shape } from '../motion/shapes.ts';
import { greyThumbnail } from '../motion/thumbnail.ts';
import type { FaceTracker } from '../tracking/tracker.ts';
import type { Frame, MotionStats } from '../types.ts';

/** A camera's motion and region settings (see streams/cameras/settings.ts). */
export interface GateSettings {
  /** Detect only where something moves (or a track is live). */
  motion: boolean;
  motionThreshold: number;
  motionMinArea: number;
  masks: readonly Shape[];
  detectRegion: Shape | null;
}

/** What to run on a frame: nothing, the whole frame, or a crop of it (frame pixels, whole numbers). */
export type DetectPlan = { kind: 'skip' } | { kind: 'whole' } | { kind: 'crop'; box: Box };

/** Above this share of the searched area, the crop is not worth it: the whole frame (or region) is searched. */
const LARGE_CROP = 0.5;

export class MotionGate {
  private settings: GateSettings;
  private detector: MotionDetector | undefined;
  /** The plan of each frame admitted to the scheduler and not yet analysed or dropped. */
  private readonly plans = new Map<number, DetectPlan>();
  readonly stats: MotionStats = { skippedFrames: 0, croppedFrames: 0, wholeFrames: 0, movingFraction: 0 };
  /** The moving regions of the last frame planned (frame pixels); undefined while motion gating is off. */
  lastRegions: Box[] | undefined;

  constructor(
    settings: GateSettings,
    private readonly minFaceSize: number,
  ) {
    this.settings = settings;
    this.configure(settings);
  }

  configure(settings: GateSettings): void {
    this.settings = settings;
    if (!settings.motion) {
      this.detector = undefined;
      return;
    }
    const options = {
      threshold: settings.motionThreshold,
      minArea: settings.motionMinArea,
      masks: settings.masks,
      region: settings.detectRegion,
    };
    if (this.detector) this.detector.configure(options);
    else this.detector = new MotionDetector(options);
  }

  get region(): Shape | null {
    return this.settings.detectRegion;
  }

  /**
   * Whether a frame that just arrived is to be analysed; its plan is kept for `take`. The tracker gives the live
   * tracks' predicted boxes at the frame's time.
   */
  admit(frame: Frame, tracker: Pick<FaceTracker, 'predict' | 'lastBoxes'>): boolean {
    // Predicted boxes where the track moves on; the last detected ones too, for tracks missed since.
    const tracks = [...tracker.predict(frame.capturedAt).map((f) => f.box), ...tracker.lastBoxes()];
    const plan = this.plan(frame.image, tracks);
    if (plan.kind === 'skip') return false;
    this.plans.set(frame.seq, plan);
    return true;
  }

  /** The plan of an admitted frame being analysed now (whole when unknown). */
  take(seq: number): DetectPlan {
    const plan = this.plans.get(seq) ?? { kind: 'whole' };
    this.plans.delete(seq);
    return plan;
  }

  /** An admitted frame dropped before analysis. */
  forget(seq: number | undefined): void {
    if (seq !== undefined) this.plans.delete(seq);
  }

  forgetAll(): void {
    this.plans.clear();
  }

  /**
   * The plan for a frame that just arrived. `tracks`: where the live tracks are, or were last seen.
   */
  plan(image: { data: Uint8Array; width: number; height: number }, tracks: readonly Box[]): DetectPlan {
    const motion = this.detector?.update(greyThumbnail(image), image.width, image.height);
    if (motion) this.stats.movingFraction = motion.fraction;
    this.lastRegions = motion?.regions;
    const plan = planDetection({
      motion,
      tracks,
      width: image.width,
      height: image.height,
      region: this.settings.detectRegion,
      minFaceSize: this.minFaceSize,
    });
    if (plan.kind === 'skip') this.stats.skippedFrames++;
    else if (plan.kind === 'crop') this.stats.croppedFrames++;
    else this.stats.wholeFrames++;
    return plan;
  }
}

export interface PlanInput {
  /** Undefined: motion gating is off. */
  motion: MotionResult | undefined;
  tracks: readonly Box[];
  width: number;
  height: number;
  region: Shape | null;
  minFaceSize: number;
}

/** The plan from a frame's motion, the live tracks and the region (pure; see the module comment). */
export function planDetection(p: PlanInput): DetectPlan {
  const frame: Box = { x1: 0, y1: 0, x2: p.width, y2: p.height };
  const limit = p.region ? regionBox(p.region, p.width, p.height) : frame;
  const whole = (): DetectPlan => (p.region ? cropPlan(limit) : { kind: 'whole' });
  if (!p.motion || p.motion.wholeFrame) return whole();
  const areas = [
    ...p.motion.regions.map((b) => grow(b, p.minFaceSize + 0.25 * longerSide(b))),
    ...p.tracks.map((b) => grow(b, p.minFaceSize / 2 + 0.5 * longerSide(b))),
  ];
  if (areas.length === 0) return { kind: 'skip' };
  let box = intersect(union(areas), limit);
  if (!box) return { kind: 'skip' };
  box = atLeast(box, 2 * p.minFaceSize, limit);
  if (area(box) > LARGE_CROP * area(limit)) return whole();
  return cropPlan(box);
}

/** The region's bounding box in frame pixels. */
export function regionBox(region: Shape, width: number, height: number): Box {
  const [x1, y1, x2, y2] = boundsOf(region);
  return { x1: x1 * width, y1: y1 * height, x2: x2 * width, y2: y2 * height };
}

function cropPlan(b: Box): DetectPlan {
  return {
    kind: 'crop',
    box: { x1: Math.floor(b.x1), y1: Math.floor(b.y1), x2: Math.ceil(b.x2), y2: Math.ceil(b.y2) },
  };
}

function longerSide(b: Box): number {
  return Math.max(b.x2 - b.x1, b.y2 - b.y1);
}

function grow(b: Box, margin: number): Box {
  return { x1: b.x1 - margin, y1: b.y1 - margin, x2: b.x2 + margin, y2: b.y2 + margin };
}

function union(boxes: readonly Box[]): Box {
  const out: Box = { ...boxes[0]! };
  for (const b of boxes) {
    out.x1 = Math.min(out.x1, b.x1);
    out.y1 = Math.min(out.y1, b.y1);
    out.x2 = Math.max(out.x2, b.x2);
    out.y2 = Math.max(out.y2, b.y2);
  }
  return out;
}

function intersect(a: Box, b: Box): Box | undefined {
  const out: Box = {
    x1: Math.max(a.x1, b.x1),
    y1: Math.max(a.y1, b.y1),
    x2: Math.min(a.x2, b.x2),
    y2: Math.min(a.y2, b.y2),
  };
  return out.x2 > out.x1 && out.y2 > out.y1 ? out : undefined;
}

/** Grows `b` about its centre to at least `side` in each direction (MTCNN needs room for a face), inside `limit`. */
function atLeast(b: Box, side: number, limit: Box): Box {
  const out: Box = { ...b };
  for (const [lo, hi] of [
    ['x1', 'x2'],
    ['y1', 'y2'],
  ] as const) {
    const need = Math.min(side, limit[hi] - limit[lo]) - (out[hi] - out[lo]);
    if (need <= 0) continue;
    out[lo] -= need / 2;
    out[hi] += need / 2;
    // Shift back inside the limit.
    if (out[lo] < limit[lo]) [out[lo], out[hi]] = [limit[lo], out[hi] + (limit[lo] - out[lo])];
    if (out[hi] > limit[hi]) [out[lo], out[hi]] = [out[lo] - (out[hi] - limit[hi]), limit[hi]];
  }
  return out;
}
