// The small grey copy of a frame that motion detection works on.
//
// Sparse sampling rather than sharp: each cell of the small image averages the luma of 4 points of the frame
// (a 2×2 grid inside the cell), so a 1280×720 frame costs 57,600 pixel reads. Measured once, by a throwaway
// script, on this project's 2-core machine at a load of ~12: about 1.6-2.5 ms per 1280×720 frame, against 6-8 ms
// for sharp's nearest-neighbour resize and 50-85 ms for its linear or lanczos resize of the same raw buffer (the
// cause inside libvips was not looked into). Averaging 4 points halves the sensor noise; what remains is far below
// the motion threshold, and OpenCV's INTER_LINEAR downscale (what Frigate's motion detector uses) is sparse too.
import type { RgbImage } from '../../models/image.ts';

/** Width of the small grey copy (its height keeps the frame's aspect ratio). */
export const THUMB_WIDTH = 160;

export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** The frame's small grey copy, THUMB_WIDTH wide (or the frame's own width when smaller). */
export function greyThumbnail(image: RgbImage, width = THUMB_WIDTH): GreyImage {
  const tw = Math.max(1, Math.min(width, image.width));
  const th = Math.max(1, Math.round((image.height * tw) / image.width));
  const out = new Uint8Array(tw * th);
  const src = image.data;
  const sx = image.width / tw;
  const sy = image.height / th;
  const cols0 = new Int32Array(tw);
  const cols1 = new Int32Array(tw);
  for (let x = 0; x < tw; x++) {
    cols0[x] = Math.floor((x + 0.25) * sx) * 3;
    cols1[x] = Math.floor((x + 0.75) * sx) * 3;
  }
  const stride = image.width * 3;
  for (let y = 0; y < th; y++) {
    const r0 = Math.floor((y + 0.25) * sy) * stride;
    const r1 = Math.floor((y + 0.75) * sy) * stride;
    for (let x = 0; x < tw; x++) {
      const a = r0 + cols0[x]!;
      const b = r0 + cols1[x]!;
      const c = r1 + cols0[x]!;
      const d = r1 + cols1[x]!;
      // Luma ≈ (R + 2G + B) / 4, summed over the 4 points: /16.
      const sum =
        src[a]! +
        2 * src[a + 1]! +
        src[a + 2]! +
        src[b]! +
        2 * src[b + 1]! +
        src[b + 2]! +
        src[c]! +
        2 * src[c + 1]! +
        src[c + 2]! +
        src[d]! +
        2 * src[d + 1]! +
        src[d + 2]!;
      out[y * tw + x] = sum >> 4;
    }
  }
  return { data: out, width: tw, height: th };
}
