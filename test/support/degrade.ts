// Real photos made worse on purpose, for the face-quality tests and scripts/quality-measure.ts: smaller,
// blurred, cut, and a head that looks turned (one side of the face squeezed).
import sharp from 'sharp';

/** The photo scaled down by `factor` (fewer source pixels per face, as a face far from the camera). */
export async function downscale(bytes: Uint8Array, factor: number): Promise<Buffer> {
  const { width } = await sharp(bytes).metadata();
  return sharp(bytes)
    .resize(Math.max(1, Math.round(width / factor)))
    .png()
    .toBuffer();
}

/** Gaussian blur of `sigma` source pixels (defocus, or motion at a slow shutter). */
export function blur(bytes: Uint8Array, sigma: number): Promise<Buffer> {
  return sharp(bytes).blur(sigma).png().toBuffer();
}

/**
 * Fakes a head turned towards the image's right: everything right of `splitX` (the nose) is squeezed to
 * `factor` of its width, so the nose lands near the right eye as it does on a turned face.
 */
export async function squeezeRightOf(bytes: Uint8Array, splitX: number, factor: number): Promise<Buffer> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const raw = { width: info.width, height: info.height, channels: 3 as const };
  const split = Math.min(info.width - 1, Math.max(1, Math.round(splitX)));
  const rightW = info.width - split;
  const squeezed = Math.max(1, Math.round(rightW * factor));
  const left = await sharp(data, { raw }).extract({ left: 0, top: 0, width: split, height: info.height }).toBuffer();
  const right = await sharp(data, { raw })
    .extract({ left: split, top: 0, width: rightW, height: info.height })
    .resize(squeezed, info.height, { fit: 'fill' })
    .toBuffer();
  return sharp({ create: { width: split + squeezed, height: info.height, channels: 3, background: '#808080' } })
    .composite([
      { input: left, raw: { width: split, height: info.height, channels: 3 }, left: 0, top: 0 },
      { input: right, raw: { width: squeezed, height: info.height, channels: 3 }, left: split, top: 0 },
    ])
    .png()
    .toBuffer();
}
