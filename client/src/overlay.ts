// Boxes, names and scores over a picture: one drawing routine for camera tiles, the large view and the webcam;
// and the motion gate's moving regions, for the motion overlay.
import type { BoxArray, Detections } from './wire.ts';

const KNOWN = '#22c55e';
const UNKNOWN = '#f59e0b';
const MOTION = '#e879f9';

/**
 * Draws `detections` on a canvas whose drawing buffer shows the whole frame, scaled from the frame's own size
 * (detections.width × height) to the canvas's.
 */
export function drawDetections(ctx: CanvasRenderingContext2D, detections: Detections): void {
  const sx = ctx.canvas.width / detections.width;
  const sy = ctx.canvas.height / detections.height;
  const font = Math.max(12, Math.round(ctx.canvas.width / 40));
  ctx.lineWidth = Math.max(2, Math.round(ctx.canvas.width / 320));
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'bottom';
  for (const face of detections.faces) {
    const [x1, y1, x2, y2] = face.box;
    const colour = face.name === 'Unknown' ? UNKNOWN : KNOWN;
    const x = x1 * sx;
    const y = y1 * sy;
    ctx.strokeStyle = colour;
    ctx.setLineDash(face.predicted ? [6, 4] : []);
    ctx.strokeRect(x, y, (x2 - x1) * sx, (y2 - y1) * sy);
    const label = face.name === 'Unknown' ? 'Unknown' : `${face.name} ${face.score.toFixed(2)}`;
    const pad = 4;
    const w = ctx.measureText(label).width + pad * 2;
    const top = Math.max(0, y - font - pad);
    ctx.fillStyle = colour;
    ctx.fillRect(x - ctx.lineWidth / 2, top, w, font + pad);
    ctx.fillStyle = '#111';
    ctx.fillText(label, x + pad - ctx.lineWidth / 2, top + font + pad / 2);
  }
  ctx.setLineDash([]);
}

/** Draws the moving regions (in the frame's pixels, `width`×`height`) as dashed boxes over a faint fill. */
export function drawMotion(ctx: CanvasRenderingContext2D, regions: readonly BoxArray[], width: number, height: number) {
  const sx = ctx.canvas.width / width;
  const sy = ctx.canvas.height / height;
  ctx.lineWidth = Math.max(1, Math.round(ctx.canvas.width / 480));
  ctx.strokeStyle = MOTION;
  ctx.fillStyle = `${MOTION}33`;
  ctx.setLineDash([4, 3]);
  for (const [x1, y1, x2, y2] of regions) {
    ctx.fillRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
    ctx.strokeRect(x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy);
  }
  ctx.setLineDash([]);
}
