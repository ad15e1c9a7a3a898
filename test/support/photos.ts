// Test photos made from ../shared/testdata in memory (nothing is written to disk), shared by benches and tests.
import sharp from 'sharp';
import { personImage, SCENES } from './testdata.ts';

/** A 640×480 JPEG with one face: a facebank crop (penny1) placed on a blurred scene background. */
export async function oneFacePhoto(): Promise<Buffer> {
  const background = await sharp(SCENES[0]!).resize(640, 480, { fit: 'cover' }).blur(25).toBuffer();
  const face = await sharp(personImage('penny', 1)).resize(180, 180).toBuffer();
  return sharp(background)
    .composite([{ input: face, left: 230, top: 120 }])
    .jpeg({ quality: 90 })
    .toBuffer();
}
