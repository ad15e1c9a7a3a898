// Masks and detection regions: rectangles or polygons in normalised frame coordinates (0..1 from the left and
// top edges), so they survive a change of decode size. The wire shape is written here once; settings.ts
// (the camera-settings schema) uses it.
import { z } from 'zod';

const unit = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
const NormPoint = z.tuple([unit, unit]).meta({ description: '[x, y], 0..1 of the frame width and height' });

const Rect = z
  .strictObject({
    rect: z
      .tuple([unit, unit, unit, unit])
      .refine(([x1, y1, x2, y2]) => x1 < x2 && y1 < y2, 'a rectangle needs x1 < x2 and y1 < y2')
      .meta({ description: '[x1, y1, x2, y2], 0..1 of the frame width and height' }),
  })
  .meta({ description: 'a rectangle' });

const Polygon = z
  .strictObject({
    polygon: z
      .array(NormPoint)
      .min(3, 'a polygon needs at least 3 points')
      .max(100, 'a polygon has at most 100 points'),
  })
  .meta({ description: 'a polygon (its points in order)' });

export const Shape = z.union([Rect, Polygon]);
export type Shape = z.infer<typeof Shape>;

/** Masks per camera at most (each costs a pass over the small grey image once, when rasterised). */
export const MAX_MASKS = 32;

/** A shape's points in normalised coordinates. */
function pointsOf(shape: Shape): readonly (readonly [number, number])[] {
  if ('rect' in shape) {
    const [x1, y1, x2, y2] = shape.rect;
    return [
      [x1, y1],
      [x2, y1],
      [x2, y2],
      [x1, y2],
    ];
  }
  return shape.polygon;
}

/** Whether the normalised point (x, y) lies inside the shape (even-odd rule). */
export function contains(shape: Shape, x: number, y: number): boolean {
  if ('rect' in shape) {
    const [x1, y1, x2, y2] = shape.rect;
    return x >= x1 && x <= x2 && y >= y1 && y <= y2;
  }
  const pts = shape.polygon;
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i]!;
    const [xj, yj] = pts[j]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The shape's bounding box, normalised: [x1, y1, x2, y2]. */
export function boundsOf(shape: Shape): [number, number, number, number] {
  let x1 = 1;
  let y1 = 1;
  let x2 = 0;
  let y2 = 0;
  for (const [x, y] of pointsOf(shape)) {
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x);
    y2 = Math.max(y2, y);
  }
  return [x1, y1, x2, y2];
}

/**
 * The pixels of a width×height image that motion must not look at: 1 inside any mask, or outside the detection
 * region when there is one; 0 elsewhere. Judged at each pixel's centre.
 */
export function ignoredPixels(
  width: number,
  height: number,
  masks: readonly Shape[],
  region: Shape | null,
): Uint8Array {
  const out = new Uint8Array(width * height);
  if (masks.length === 0 && region === null) return out;
  for (let y = 0; y < height; y++) {
    const ny = (y + 0.5) / height;
    for (let x = 0; x < width; x++) {
      const nx = (x + 0.5) / width;
      const masked = (region !== null && !contains(region, nx, ny)) || masks.some((m) => contains(m, nx, ny));
      if (masked) out[y * width + x] = 1;
    }
  }
  return out;
}
