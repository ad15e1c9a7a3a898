import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MTCNN_REFERENCE_DIR, personImage, SCENES } from '../test/support/testdata.ts';
import { decodeImage, ImageDecodeError } from './image.ts';

const LIMIT = { maxPixels: 50_000_000 };
const jpeg = readFileSync(SCENES[1]!);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'decoded';
  } catch (err) {
    expect(err).toBeInstanceOf(ImageDecodeError);
    return (err as ImageDecodeError).code;
  }
}

describe('decodeImage', () => {
  it('decodes JPEG, PNG and WebP to packed RGB', async () => {
    for (const bytes of [jpeg, readFileSync(personImage('amy', 1)), await sharp(jpeg).webp().toBuffer()]) {
      const img = await decodeImage(bytes, LIMIT);
      expect(img.data.length).toBe(img.width * img.height * 3);
    }
  });

  it('converts greyscale and alpha images to three channels', async () => {
    const grey = await sharp(jpeg).greyscale().png().toBuffer();
    const rgba = await sharp(jpeg).ensureAlpha().png().toBuffer();
    for (const bytes of [grey, rgba]) expect((await decodeImage(bytes, LIMIT)).data.length % 3).toBe(0);
  });

  it('applies EXIF orientation', async () => {
    const meta = await sharp(jpeg).metadata();
    const rotated = await sharp(jpeg).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const img = await decodeImage(rotated, LIMIT);
    expect([img.width, img.height]).toEqual([meta.height, meta.width]);
  });

  it('refuses empty, non-image, truncated and oversized input with a typed code', async () => {
    expect(await codeOf(decodeImage(new Uint8Array(0), LIMIT))).toBe('empty_image');
    expect(await codeOf(decodeImage(Buffer.from('definitely not an image'), LIMIT))).toBe('invalid_image');
    const photo = readFileSync(`${MTCNN_REFERENCE_DIR}faces.jpg`);
    expect(await codeOf(decodeImage(photo.subarray(0, photo.length / 2), LIMIT))).toBe('truncated_image');
    expect(await codeOf(decodeImage(photo, { maxPixels: 100_000 }))).toBe('image_too_large');
  });

  it('refuses a decompression bomb from its header, before decoding it', async () => {
    // 16000×16000 of one colour compresses to a few kB of PNG.
    const bomb = await sharp({ create: { width: 16000, height: 16000, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(bomb.length).toBeLessThan(2_000_000);
    const t = performance.now();
    expect(await codeOf(decodeImage(bomb, LIMIT))).toBe('image_too_large');
    expect(performance.now() - t).toBeLessThan(1000);
  });
});
