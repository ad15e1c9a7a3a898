// Cameras and person events over HTTP. Camera settings are checked with the registry's own schema
// (streams/cameras/settings.ts) and run by the registry; this is transport only. Reads need the API key whenever
// one is configured (they show who was where, like the Socket.IO hub); writes need it like facebank writes (and,
// without a key, come from this machine only).
import { Hono } from 'hono';
import { requireKey } from '../auth.ts';
import type { AppDeps } from '../context.ts';
import { HttpError } from '../errors.ts';
import { eventMessage } from '../live/protocol.ts';
import { jsonBody } from '../requestBody.ts';
import { CameraInput, CameraPatch, EventsQuery } from '../schemas.ts';
import { idParam } from './idParam.ts';

export function cameraRoutes({ config, cameras }: AppDeps): Hono {
  const app = new Hono();
  const write = requireKey(config.apiKey, 'write');
  const read = requireKey(config.apiKey, 'read', true);

  app.get('/', read, (c) => c.json(cameras.list()));
  app.post('/', write, async (c) => {
    const input = await jsonBody(c, CameraInput, 'invalid_camera');
    return c.json(await cameras.add(input), 201);
  });
  app.get('/:id', read, (c) => c.json(cameras.get(c.req.param('id'))));
  app.patch('/:id', write, async (c) => {
    const patch = await jsonBody(c, CameraPatch, 'invalid_camera');
    return c.json(await cameras.update(c.req.param('id'), patch));
  });
  app.delete('/:id', write, async (c) => {
    await cameras.remove(c.req.param('id'));
    return c.body(null, 204);
  });
  return app;
}

export function eventRoutes({ config, events }: AppDeps): Hono {
  const app = new Hono();
  const read = requireKey(config.apiKey, 'read', true);

  app.get('/', read, async (c) => {
    const parsed = EventsQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, 'invalid_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message}`);
    }
    const { camera, name, since, before, limit } = parsed.data;
    const query = {
      limit,
      ...(camera !== undefined ? { cameraId: camera } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(before !== undefined ? { before } : {}),
    };
    return c.json((await events.list(query)).map((e) => eventMessage(e)));
  });
  app.get('/:id/crop', read, async (c) => {
    const id = idParam(c.req.param('id'));
    const jpeg = id === undefined ? undefined : await events.crop(id);
    if (!jpeg) throw new HttpError(404, 'crop_not_found', 'no such event, or the event has no face crop');
    return c.body(new Uint8Array(jpeg), 200, {
      'Content-Type': 'image/jpeg',
      'Cache-Control': 'private, max-age=86400',
    });
  });
  return app;
}
