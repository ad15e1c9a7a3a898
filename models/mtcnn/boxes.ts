// Box arithmetic for the MTCNN cascade (P-Net → R-Net → O-Net).
//
// Coordinates are continuous (models/box.ts). The reference MTCNN code adds 1 to widths (inclusive pixel
// indices); mixing the two conventions shifts regression and NMS slightly, so every helper here uses the
// continuous one and nothing else should.
//
// The helpers are generic over extra fields (landmarks, stage data) and copy them through unchanged.
import { area, type Box, intersection } from '../box.ts';

export { area, iou } from '../box.ts';

export interface ScoredBox extends Box {
  score: number;
}

/** Bounding-box regression offsets from R-Net/O-Net, in units of the box's width and height. */
export type BoxRegression = readonly [dx1: number, dy1: number, dx2: number, dy2: number];

export type NmsMode = 'union' | 'min';

/** Intersection over the smaller area; 0 when either box is empty. */
export function iom(a: ScoredBox, b: ScoredBox): number {
  const smaller = Math.min(area(a), area(b));
  return smaller > 0 ? intersection(a, b) / smaller : 0;
}

/**
 * Greedy non-maximum suppression as in MTCNN: visit boxes by descending score, keep each one not yet
 * suppressed and suppress every later box whose overlap with it exceeds `threshold`. 'union' measures
 * overlap as IoU; 'min' divides the intersection by the smaller area, which O-Net uses so that a small box
 * nested inside a larger face is removed even though its IoU is low. Equal scores keep input order.
 * Returns the kept indices into `boxes`, highest score first.
 */
export function nms(boxes: readonly ScoredBox[], threshold: number, mode: NmsMode): number[] {
  const n = boxes.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => boxes[j]!.score - boxes[i]!.score || i - j);
  const areas = new Float64Array(n);
  for (let i = 0; i < n; i++) areas[i] = area(boxes[i]!);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi]!;
    if (suppressed[i]) continue;
    keep.push(i);
    const a = boxes[i]!;
    const areaA = areas[i]!;
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj]!;
      if (suppressed[j]) continue;
      const inter = intersection(a, boxes[j]!);
      if (inter === 0) continue;
      const denom = mode === 'min' ? Math.min(areaA, areas[j]!) : areaA + areas[j]! - inter;
      if (denom > 0 && inter / denom > threshold) suppressed[j] = 1;
    }
  }
  return keep;
}

/** Apply R-Net/O-Net bounding-box regression: each edge moves by its offset times the box's width or height. */
export function calibrate<B extends ScoredBox>(box: B, reg: BoxRegression): B {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  return {
    ...box,
    x1: box.x1 + reg[0] * w,
    y1: box.y1 + reg[1] * h,
    x2: box.x2 + reg[2] * w,
    y2: box.y2 + reg[3] * h,
  };
}

/** Grow the shorter side to make a square with the same centre, since R-Net and O-Net take square inputs. */
export function square<B extends ScoredBox>(box: B): B {
  const w = box.x2 - box.x1;
  const h = box.y2 - box.y1;
  const half = Math.max(w, h) / 2;
  const cx = box.x1 + w / 2;
  const cy = box.y1 + h / 2;
  return { ...box, x1: cx - half, y1: cy - half, x2: cx + half, y2: cy + half };
}

/**
 * Clamp a box to the image [0, width] × [0, height]. A box wholly outside comes back with zero width or
 * height (x1 = x2 or y1 = y2); callers drop those by checking `area(box) > 0`.
 */
export function clipToImage<B extends ScoredBox>(box: B, width: number, height: number): B {
  const clamp = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  const x1 = clamp(box.x1, width);
  const y1 = clamp(box.y1, height);
  return { ...box, x1, y1, x2: Math.max(x1, clamp(box.x2, width)), y2: Math.max(y1, clamp(box.y2, height)) };
}
