// The facebank over HTTP: people and their images. Writes go through the facebank, which keeps the
// folder tree (the source of truth) and its cache in step; in cluster mode, through the shared database first.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Hono } from 'hono';
import { requireKey } from '../auth.ts';
import type { AppDeps } from '../context.ts';
import { imageUploads, jsonBody } from '../requestBody.ts';
import { AddImageRequest, PersonName } from '../schemas.ts';

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
};

export function peopleRoutes({ config, facebank, sharedFacebank }: AppDeps): Hono {
  const app = new Hono();
  const writes = sharedFacebank ?? facebank;
  const write = requireKey(config.apiKey, 'write');
  // People's photos and names are personal data: with a key configured, reading them needs it too.
  const read = requireKey(config.apiKey, 'read', true);

  app.get('/', read, (c) => c.json(facebank.people()));
  app.post('/', write, async (c) => {
    const { name } = await jsonBody(c, PersonName);
    return c.json(await writes.createPerson(name), 201);
  });
  app.get('/:name', read, (c) => c.json(facebank.person(c.req.param('name'))));
  app.patch('/:name', write, async (c) => {
    const { name } = await jsonBody(c, PersonName);
    return c.json(await writes.renamePerson(c.req.param('name'), name));
  });
  app.delete('/:name', write, async (c) => {
    await writes.deletePerson(c.req.param('name'));
    return c.body(null, 204);
  });

  app.post('/:name/images', write, async (c) => {
    const person = c.req.param('name');
    const added = [];
    for (const upload of await imageUploads(c, AddImageRequest)) {
      added.push(await writes.addImage(person, upload.bytes, upload.filename));
    }
    return c.json(added, 201);
  });
  app.get('/:name/images/:file', read, async (c) => {
    const path = facebank.imagePath(c.req.param('name'), c.req.param('file'));
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes) return c.json({ error: 'image_not_found', message: 'no such image' }, 404);
    return c.body(bytes, 200, {
      'Content-Type': IMAGE_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    });
  });
  app.delete('/:name/images/:file', write, async (c) => {
    await writes.removeImage(c.req.param('name'), c.req.param('file'));
    return c.body(null, 204);
  });
  return app;
}
