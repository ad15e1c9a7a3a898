// Person events made from test photos, for the tests of what is done with stored events (feedback, unknowns).
import sharp from 'sharp';
import type { TestServer } from './server.ts';
import { type Person, personImage } from './testdata.ts';

/** Stores a person_appeared event with the photo as its crop JPEG (what the pipeline keeps); returns its id. */
export async function storePhotoEvent(
  server: TestServer,
  photo: { person: Person; n: number },
  event: { name: string; score: number },
): Promise<number> {
  const crop = await sharp(personImage(photo.person, photo.n)).jpeg({ quality: 85 }).toBuffer();
  return server.runtime.cameras.events.insert({
    type: 'person_appeared',
    cameraId: 'door',
    trackId: photo.n,
    ...event,
    at: Date.now(),
    crop: new Uint8Array(crop),
  });
}
