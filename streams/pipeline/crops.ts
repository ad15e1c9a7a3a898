// Pixels: best-face crops cut from a source frame, and JPEG encoding (crops and previews).
import sharp from 'sharp';
import type { Box } from '../../models/box.ts';
import type { RgbImage } from '../../models/image.ts';

/** A region of an RGB image, copied row by row (no sharp round trip: a face crop is small). */
export function cutRegion(image: RgbImage, box: Box, margin: number): RgbImage | undefined {
  const { x1: bx1, y1: by1, x2: bx2, y2: by2 } = box;
  const mw = (bx2 - bx1) * margin;
  const mh = (by2 - by1) * margin;
  const x1 = Math.max(0, Math.floor(bx1 - mw));
  const y1 = Math.max(0, Math.floor(by1 - mh));
  const x2 = Math.min(image.width, Math.ceil(bx2 + mw));
  const y2 = Math.min(image.height, Math.ceil(by2 + mh));
  const width = x2 - x1;
  const height = y2 - y1;
  if (width < 2 || height < 2) return undefined;
  const data = new Uint8Array(width * height * 3);
  const srcRow = image.width * 3;
  const row = width * 3;
  for (let y = 0; y < height; y++) {
    const from = (y1 + y) * srcRow + x1 * 3;
    data.set(image.data.subarray(from, from + row), y * row);
  }
  return { data, width, height };
}

export interface Encoded {
  data: Uint8Array;
  width: number;
  height: number;
}

export async function encodeJpeg(image: RgbImage, maxWidth: number, quality: number): Promise<Encoded> {
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (maxWidth > 0 && image.width > maxWidth) pipeline = pipeline.resize({ width: maxWidth });
  const { data, info } = await pipeline.jpeg({ quality }).toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
  };
}

/** A best face kept for its track's events: raw RGB, encoded to JPEG once, when an event needs it. */
export interface KeptCrop {
  image: RgbImage;
  jpeg?: Promise<Uint8Array | undefined>;
}
