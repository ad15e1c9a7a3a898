// Masks and the detection region as the dashboard edits them: the server's shapes (rectangles or polygons,
// 0..1 of the frame), drawn as rectangles by dragging over the picture.
import type { Shape } from './wire.ts';

/** A drag shorter than this (of the frame's width or height) is a click, not a rectangle. */
const MIN_SIDE = 0.01;

const clamp = (v: number) => Math.min(1, Math.max(0, v));
/** Four decimals: a tenth of a pixel on a 4K frame, and short JSON. */
const round = (v: number) => Math.round(v * 10_000) / 10_000;

/** The rectangle between two dragged-to points (0..1), or undefined for a drag too small to mean one. */
export function rectBetween(a: readonly [number, number], b: readonly [number, number]): Shape | undefined {
  const [x1, x2] = [clamp(Math.min(a[0], b[0])), clamp(Math.max(a[0], b[0]))].map(round) as [number, number];
  const [y1, y2] = [clamp(Math.min(a[1], b[1])), clamp(Math.max(a[1], b[1]))].map(round) as [number, number];
  if (x2 - x1 < MIN_SIDE || y2 - y1 < MIN_SIDE) return undefined;
  return { rect: [x1, y1, x2, y2] };
}

const percent = (v: number) => `${Math.round(v * 100)}%`;

/** A short description for a list: where the shape is, as shares of the frame. */
export function describeShape(shape: Shape): string {
  if ('rect' in shape) {
    const [x1, y1, x2, y2] = shape.rect;
    return `rectangle ${percent(x1)}–${percent(x2)} across, ${percent(y1)}–${percent(y2)} down`;
  }
  return `polygon of ${shape.polygon.length} points`;
}
