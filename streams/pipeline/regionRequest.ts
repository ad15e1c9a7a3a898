// The pixels a frame's detection runs on (the whole frame or a crop of it, per the motion gate's plan), and the
// way back: faces found in a crop are moved to frame coordinates, and faces outside the detection region dropped.

import type { AnalyzedFace } from '../../models/analyze.ts';
import type { Box } from '../../models/box.ts';
import type { RgbImage } from '../../models/image.ts';
import { contains, type Shape } from '../motion/shapes.ts';
import type { SettledFace } from '../tracking/trackerTypes.ts';
import { cutRegion } from './crops.ts';
import type { DetectPlan } from './motionGate.ts';

type KnownFace = Box & { signature?: Float32Array };

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
  const [dx, dy] = crop && plan.kind === 'crop' ? [Math.max(0, plan.box.x1), Math.max(0, plan.box.y1)] : [0, 0];
  const image = crop ?? { data: new Uint8Array(frame.data), width: frame.width, height: frame.height };
  return {
    image,
    known: (settled) =>
      settled.map(({ box, signature }) => {
        const b = shift(box, -dx, -dy);
        return signature ? { ...b, signature } : b;
      }),
    faces: (found, region) => {
      const out: AnalyzedFace[] = [];
      for (const f of found) {
        const box = shift(f.box, dx, dy);
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
  return { x1: b.x1 + dx, y1: b.y1 + dy, x2: b.x2 + dx, y2: b.y2 + dy };
}
