// A box as every HTTP and Socket.IO payload writes it: [x1, y1, x2, y2] in image pixels (the replaced system's
// POST /rec `bboxes`, a fixed contract). Inside the process a box is models/box.ts's {x1, y1, x2, y2}.
import type { Box } from '../models/box.ts';

export type BoxArray = [x1: number, y1: number, x2: number, y2: number];

export function boxArray({ x1, y1, x2, y2 }: Box): BoxArray {
  return [x1, y1, x2, y2];
}
