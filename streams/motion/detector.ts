// Per-camera motion detection on the small grey copy of each frame: the difference from a slowly updated
// background, after undoing global brightness changes, thresholded, grouped into blobs, small blobs dropped.
import type { Box } from '../../models/box.ts';
import { findBlobs } from './blobs.ts';
import { ignoredPixels, type Shape } from './shapes.ts';
import type { GreyImage } from './thumbnail.ts';

export interface MotionOptions {
  /** Grey levels (0-255) a pixel must differ from the background by, after brightness normalisation. */
  threshold: number;
  /** Smallest moving blob kept, as a fraction of the frame's area. */
  minArea: number;
  /** Motion inside these is ignored. */
  masks: readonly Shape[];
  /** Motion outside it is ignored (null: the whole frame). */
  region: Shape | null;
}

export interface MotionResult {
  /** Moving pixels' share of the watched ones (0..1), blobs under minArea included. */
  fraction: number;
  /** Moving regions, in frame pixels. */
  regions: Box[];
  /**
   * No background to compare with (the first frame, a new frame size), or a frame different from it almost
   * everywhere (a cut, a light switched on, the camera moved): the frame becomes the background and is to be
   * looked at whole, once.
   */
  wholeFrame: boolean;
}

/**
 * Share of the watched pixels that, changing at once, is a new scene rather than something moving in it. A person
 * close enough to fill more of the picture is looked at whole anyway.
 */
const SCENE_CHANGE = 0.6;
/** Background update per frame where nothing moves (about 2 s to follow a change at 10 frames/s)... */
const ALPHA_STILL = 0.05;
/** ...and where something does: something that stops moving (a parked bag) joins the background in ~10 s. */
const ALPHA_MOVING = 0.01;
/** Exposure changes beyond this factor are not fitted (they are a new scene, or darkness). */
const MAX_GAIN = 3;

export class MotionDetector {
  private background: Float32Array | undefined;
  private ignored: Uint8Array = new Uint8Array(0);
  private watched = 0;
  private width = 0;
  private height = 0;

  constructor(private options: MotionOptions) {}

  /** New thresholds, masks or region; the background is kept (it does not depend on them). */
  configure(options: MotionOptions): void {
    this.options = options;
    if (this.background) this.rasterise(this.width, this.height);
  }

  /** Compares the frame's small grey copy with the background, then updates the background. */
  update(grey: GreyImage, frameWidth: number, frameHeight: number): MotionResult {
    const { width, height, data } = grey;
    if (!this.background || width !== this.width || height !== this.height) {
      this.reset(grey);
      return { fraction: 1, regions: [], wholeFrame: true };
    }
    const bg = this.background;
    const { gain, offset } = this.exposureFit(data);
    const moving = new Uint8Array(width * height);
    let changed = 0;
    for (let i = 0; i < data.length; i++) {
      if (this.ignored[i] === 1) continue;
      if (Math.abs(data[i]! * gain + offset - bg[i]!) > this.options.threshold) {
        moving[i] = 1;
        changed++;
      }
    }
    const fraction = this.watched > 0 ? changed / this.watched : 0;
    if (fraction > SCENE_CHANGE) {
      this.reset(grey);
      return { fraction, regions: [], wholeFrame: true };
    }
    for (let i = 0; i < data.length; i++) {
      const alpha = moving[i] === 1 ? ALPHA_MOVING : ALPHA_STILL;
      bg[i] = bg[i]! + alpha * (data[i]! * gain + offset - bg[i]!);
    }
    if (changed === 0) return { fraction: 0, regions: [], wholeFrame: false };
    const minArea = Math.max(1, this.options.minArea * width * height);
    const sx = frameWidth / width;
    const sy = frameHeight / height;
    const regions = findBlobs(moving, width, height, minArea).map(
      (b): Box => ({ x1: b.x1 * sx, y1: b.y1 * sy, x2: b.x2 * sx, y2: b.y2 * sy }),
    );
    return { fraction, regions, wholeFrame: false };
  }

  private reset(grey: GreyImage): void {
    this.background = Float32Array.from(grey.data);
    if (grey.width !== this.width || grey.height !== this.height) this.rasterise(grey.width, grey.height);
  }

  private rasterise(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.ignored = ignoredPixels(width, height, this.options.masks, this.options.region);
    this.watched = this.ignored.length - this.ignored.reduce((s, v) => s + v, 0);
  }

  /**
   * The affine map (gain and offset) that brings the frame to the background's brightness: a least-squares fit
   * over the watched pixels, then again without those it leaves far off (what moves). Auto-exposure, gain and
   * lighting drift change the whole picture roughly this way, by a factor and an offset; a person changes a part.
   */
  private exposureFit(data: Uint8Array): { gain: number; offset: number } {
    let fit = this.fitOver(data, Number.POSITIVE_INFINITY, 1, 0);
    fit = this.fitOver(data, 2 * this.options.threshold, fit.gain, fit.offset);
    return fit;
  }

  private fitOver(
    data: Uint8Array,
    maxResidual: number,
    gain: number,
    offset: number,
  ): { gain: number; offset: number } {
    const bg = this.background!;
    let n = 0;
    let sc = 0;
    let sb = 0;
    let scc = 0;
    let scb = 0;
    for (let i = 0; i < data.length; i++) {
      if (this.ignored[i] === 1) continue;
      const c = data[i]!;
      const b = bg[i]!;
      if (Math.abs(c * gain + offset - b) > maxResidual) continue;
      n++;
      sc += c;
      sb += b;
      scc += c * c;
      scb += c * b;
    }
    if (n < 16) return { gain, offset };
    const mc = sc / n;
    const mb = sb / n;
    const varC = scc / n - mc * mc;
    // A flat frame (dark, or fogged) says nothing about gain: only the offset is fitted.
    const g = varC > 4 ? Math.min(MAX_GAIN, Math.max(1 / MAX_GAIN, (scb / n - mc * mb) / varC)) : 1;
    return { gain: g, offset: mb - g * mc };
  }
}
