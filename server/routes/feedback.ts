// Feedback over HTTP: "not this person" (negative examples, from an event or an uploaded image, and their undo)
// and the unknown-faces gallery grouped by person. Transport only: the facebank keeps the negatives (in cluster mode
// through the shared database, so every node has them), streams/ embeds event crops and groups the unknown visits
// (every node's, in cluster mode).
import { Hono } from 'hono';
import type { z } from 'zod';
import { type Negative, SAME_FACE_BOUND, UNKNOWN } from '../../facebank/index.ts';
import type { EventReader } from '../../streams/events.ts';
import { unknownClusters } from '../../streams/unknowns.ts';
import { requireKey } from '../auth.ts';
import type { AppDeps } from '../context.ts';
import { HttpError } from '../errors.ts';
import { cropUrl, eventMessage } from '../live/protocol.ts';
import { imageUploads } from '../requestBody.ts';
import { AddImageRequest, type NegativeExample, UnknownsQuery } from '../schemas.ts';
import { idParam } from './idParam.ts';

/** A negative as clients see it: where it came from, and the event's crop while it is kept. */
async function negativeMessage(n: Negative, events: EventReader): Promise<z.input<typeof NegativeExample>> {
  const eventId = n.source.kind === 'event' ? n.source.eventId : null;
  return {
    id: n.id,
    person: n.person,
    eventId,
    sha256: n.source.kind === 'image' ? n.source.sha256 : null,
    cropUrl: eventId !== null && (await events.get(eventId))?.hasCrop ? cropUrl(eventId) : null,
    createdAt: n.createdAt,
  };
}

function eventId(raw: string): number {
  const id = idParam(raw);
  if (id === undefined) throw new HttpError(404, 'event_not_found', `no event ${JSON.stringify(raw)}`);
  return id;
}

function negativeId(raw: string): number {
  const id = idParam(raw);
  if (id === undefined) throw new HttpError(404, 'negative_not_found', `no negative example ${JSON.stringify(raw)}`);
  return id;
}

/** Routes under /api/people/{name}/negatives. */
export function negativeRoutes({ config, facebank, sharedFacebank, events }: AppDeps): Hono {
  const app = new Hono();
  const write = requireKey(config.apiKey, 'write');
  const writes = sharedFacebank ?? facebank;
  // Always keyed when a key is set, like events: negatives point at event crops (who was where).
  const read = requireKey(config.apiKey, 'read', true);
  const wire = (n: Negative) => negativeMessage(n, events);

  app.get('/:name/negatives', read, async (c) =>
    c.json(await Promise.all(facebank.negatives(c.req.param('name')).map(wire))),
  );
  app.post('/:name/negatives', write, async (c) => {
    const person = c.req.param('name');
    const added = [];
    for (const upload of await imageUploads(c, AddImageRequest)) {
      added.push(await wire((await writes.addNegativeImage(person, upload.bytes)).negative));
    }
    return c.json(added, 201);
  });
  app.delete('/:name/negatives/:id', write, async (c) => {
    await writes.removeNegative(c.req.param('name'), negativeId(c.req.param('id')));
    return c.body(null, 204);
  });
  return app;
}

/** POST /api/events/{id}/reject (mounted under /api/events): any node's event, on any node in cluster mode. */
export function rejectRoutes({ config, facebank, sharedFacebank, events, eventFaces }: AppDeps): Hono {
  const app = new Hono();
  const write = requireKey(config.apiKey, 'write');
  const writes = sharedFacebank ?? facebank;
  app.post('/:id/reject', write, async (c) => {
    const id = eventId(c.req.param('id'));
    const event = await events.get(id);
    if (event === undefined) throw new HttpError(404, 'event_not_found', `no event ${id}`);
    if (event.name === UNKNOWN) {
      throw new HttpError(409, 'event_not_named', `event ${id} named nobody: there is no name to reject`);
    }
    const embedding = await eventFaces.embedding(id);
    if (embedding === undefined) {
      throw new HttpError(409, 'crop_not_found', `event ${id} has no face crop (any more) to learn from`);
    }
    const { negative, created } = await writes.addNegative(event.name, embedding, { kind: 'event', eventId: id });
    return c.json(await negativeMessage(negative, events), created ? 201 : 200);
  });
  return app;
}

/** GET /api/unknowns: the newest Unknown visits grouped by person. */
export function unknownRoutes({ config, events, eventFaces }: AppDeps): Hono {
  const app = new Hono();
  const read = requireKey(config.apiKey, 'read', true);
  app.get('/', read, async (c) => {
    const parsed = UnknownsQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, 'invalid_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message}`);
    }
    const clusters = await unknownClusters(events, eventFaces, {
      limit: parsed.data.limit,
      bound: SAME_FACE_BOUND,
    });
    return c.json(
      clusters.map((k) => ({
        id: Math.min(...k.events.map((e) => e.id)),
        count: k.events.length,
        first: k.first,
        last: k.last,
        events: k.events.map((e) => eventMessage(e)),
      })),
    );
  });
  return app;
}
