// The pixels a frame's detection runs on (the whole frame or a crop of it, per the motion gate's plan), and the
// way back: faces found in a crop are moved to frame coordinates, and faces outside the detection region dropped.

import type { AnalyzedFace } from '../../models/analyze.ts';
import type { RgbImage } from '../../models/image.ts';
import { contains, type Shape } from '../motion/shapes.ts';
import type { SettledFace } from '../tracking/trackerTypes.ts';
import type { Box } from '../types.ts';
import { cutRegion } from './crops.ts';
import type { DetectPlan } from './motionGate.ts';

type KnownFace = { x1: number; y1: number; x2: number; y2: number; signature?: Float32Array };

export interface RegionRequest {
  /** A copy (the pool transfers its buffer away): the whole frame, or the crop. */
  image: RgbImage;
  /** Settled faces' boxes in the crop's coordinates (for the pool's skipEmbeddingNear). */
  known(settled: readonly SettledFace[]): KnownFace[];
  /** The pool's faces in frame coordinates, those whose centre lies outside the region left out. */
  faces(found: readonly AnalyzedFace[], region: Shape | null): AnalyzedFace[];
}

export function regionRequest(frame: RgbImage, plan: DetectPlan): RegionRequest {
  const crop = plan.kind === 'crop' ? cutRegion(frame, plan.box, 0) : undefined;
  const [dx, dy] = crop && plan.kind === 'crop' ? [Math.max(0, plan.box[0]), Math.max(0, plan.box[1])] : [0, 0];
  const image = crop ?? { data: new Uint8Array(frame.data), width: frame.width, height: frame.height };
  return {
    image,
    known: (settled) =>
      settled.map(({ box, signature }) => {
        const b = shift(box, -dx, -dy);
        return signature
          ? { x1: b[0], y1: b[1], x2: b[2], y2: b[3], signature }
          : { x1: b[0], y1: b[1], x2: b[2], y2: b[3] };
      }),
    faces: (found, region) => {
      const out: AnalyzedFace[] = [];
      for (const f of found) {
        const box = { x1: f.box.x1 + dx, y1: f.box.y1 + dy, x2: f.box.x2 + dx, y2: f.box.y2 + dy };
        const cx = (box.x1 + box.x2) / 2 / frame.width;
        const cy = (box.y1 + box.y2) / 2 / frame.height;
        if (region && !contains(region, cx, cy)) continue;
        if (dx === 0 && dy === 0) out.push(f);
        else out.push({ ...f, box, landmarks: f.landmarks.map(([x, y]) => [x + dx, y + dy] as [number, number]) });
      }
      return out;
    },
  };
}

function shift(b: Box, dx: number, dy: number): Box {
  return [b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy];
}
