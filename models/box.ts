// The one box type of the code: corners in continuous pixel coordinates. A box spans [x1, x2) × [y1, y2), its
// width is x2 − x1 and its area (x2 − x1)·(y2 − y1); the whole image is (0, 0, width, height). The HTTP and
// Socket.IO payloads write a box as the array [x1, y1, x2, y2] (server/wire.ts), a fixed external contract.

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** Area of a box; degenerate or inverted boxes have area 0. */
export function area(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Intersection over union; 0 when the union is empty. */
export function iou(a: Box, b: Box): number {
  const inter = intersection(a, b);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}
