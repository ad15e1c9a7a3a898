// Decodes any image sharp reads (JPEG, PNG, WebP, …) into packed RGB, with EXIF orientation applied.
import sharp from 'sharp';
import { CodedError } from './codedError.ts';

/** Packed 8-bit RGB, row-major, no padding: the one pixel format the models' code passes around. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

export type ImageErrorCode = 'empty_image' | 'invalid_image' | 'truncated_image' | 'image_too_large';

export class ImageDecodeError extends CodedError<ImageErrorCode> {
  override name = 'ImageDecodeError';
}

/**
 * Face analysis runs one image per thread (each pool worker, and the bench's stage tables measure one such
 * thread), so libvips gets one thread per operation: more would only oversubscribe the CPU. Process-wide.
 */
export function oneLibvipsThreadPerImage(): void {
  sharp.concurrency(1);
}

export interface DecodeOptions {
  /** Refuse images with more pixels than this (decompression bombs). */
  maxPixels: number;
}

async function tooLarge(bytes: Uint8Array, maxPixels: number): Promise<ImageDecodeError> {
  const meta = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  const size = meta ? `${meta.width}×${meta.height} pixels` : 'more pixels than allowed';
  return new ImageDecodeError('image_too_large', `the image has ${size}; the limit is ${maxPixels} pixels`);
}

export async function decodeImage(bytes: Uint8Array, { maxPixels }: DecodeOptions): Promise<RgbImage> {
  if (bytes.byteLength === 0) throw new ImageDecodeError('empty_image', 'the image is empty');
  try {
    // One pass: sharp checks the pixel limit from the header before it decodes anything.
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate() // EXIF orientation
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) throw await tooLarge(bytes, maxPixels);
    if (/unsupported image format|bad seek|input buffer contains unsupported/i.test(message)) {
      throw new ImageDecodeError('invalid_image', 'the data is not an image in a supported format');
    }
    if (/premature end|truncated|corrupt|unexpected end/i.test(message)) {
      throw new ImageDecodeError('truncated_image', 'the image data is truncated or corrupt');
    }
    throw new ImageDecodeError('invalid_image', `the image could not be decoded (${message})`);
  }
}
