// The LFW dev images int8 calibration reads (`npm run models:calibrate`, `npm run bench`'s MTCNN comparison): the
// images of one pairs file that never appear in another (the test pairs), so calibration never sees a test image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lfwImagePath, parsePairs } from '../models/eval/verification.ts';

/** The images (paths relative to the LFW image root) of `pairs` that are not in `exclude`, sorted. */
export function pairImagesExcept(dir: string, pairs: string, exclude: string): string[] {
  const pathsOf = (file: string) =>
    parsePairs(readFileSync(join(dir, file), 'utf8')).flatMap((p) => [
      lfwImagePath(p.a.name, p.a.index),
      lfwImagePath(p.b.name, p.b.index),
    ]);
  const excluded = new Set(pathsOf(exclude));
  return [...new Set(pathsOf(pairs))].filter((p) => !excluded.has(p)).sort();
}

/** `count` items evenly spread over `from`. */
export function spread<T>(from: readonly T[], count: number): T[] {
  const step = Math.max(1, from.length / count);
  return Array.from({ length: Math.min(count, from.length) }, (_, i) => from[Math.floor(i * step)]!);
}
