// Feedback over HTTP: "not this person" (negative examples, from an event or an uploaded image, and their undo)
// and the unknown-faces gallery grouped by person. Transport only: the facebank keeps the negatives, streams/
// embeds event crops and groups the unknown visits.
import { Hono } from 'hono';
import type { z } from 'zod';
import { type Negative, SAME_FACE_BOUND, UNKNOWN } from '../../facebank/index.ts';
import type { EventsStore } from '../../streams/events.ts';
import { unknownClusters } from '../../streams/unknowns.ts';
import { requireKey } from '../auth.ts';
import type { AppDeps } from '../context.ts';
import { HttpError } from '../errors.ts';
import { cropUrl, eventMessage } from '../live/protocol.ts';
import { imageUploads } from '../requestBody.ts';
import { AddImageRequest, type NegativeExample, UnknownsQuery } from '../schemas.ts';
import { eventIdParam } from './eventId.ts';

/** A negative as clients see it: where it came from, and the event's crop while it is kept. */
function negativeMessage(n: Negative, events: EventsStore): z.input<typeof NegativeExample> {
  const eventId = n.source.kind === 'event' ? n.source.eventId : null;
  return {
    id: n.id,
    person: n.person,
    eventId,
    sha256: n.source.kind === 'image' ? n.source.sha256 : null,
    cropUrl: eventId !== null && events.crop(eventId) !== undefined ? cropUrl(eventId) : null,
    createdAt: n.createdAt,
  };
}

function eventId(raw: string): number {
  const id = eventIdParam(raw);
  if (id === undefined) throw new HttpError(404, 'event_not_found', `no event ${JSON.stringify(raw)}`);
  return id;
}

function negativeId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw))
    throw new HttpError(404, 'negative_not_found', `no negative example ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Routes under /api/people/{name}/negatives. */
export function negativeRoutes({ config, facebank, cameras }: AppDeps): Hono {
  const app = new Hono();
  const write = requireKey(config.apiKey, 'write');
  // Always keyed when a key is set, like events: negatives point at event crops (who was where).
  const read = requireKey(config.apiKey, 'read', true);
  const wire = (n: Negative) => negativeMessage(n, cameras.events);

  app.get('/:name/negatives', read, (c) => c.json(facebank.negatives(c.req.param('name')).map(wire)));
  app.post('/:name/negatives', write, async (c) => {
    const person = c.req.param('name');
    const added = [];
    for (const upload of await imageUploads(c, AddImageRequest)) {
      added.push(wire((await facebank.addNegativeImage(person, upload.bytes)).negative));
    }
    return c.json(added, 201);
  });
  app.delete('/:name/negatives/:id', write, async (c) => {
    await facebank.removeNegative(c.req.param('name'), negativeId(c.req.param('id')));
    return c.body(null, 204);
  });
  return app;
}

/** POST /api/events/{id}/reject (mounted under /api/events). */
export function rejectRoutes({ config, facebank, cameras, eventFaces, sharedEvents }: AppDeps): Hono {
  const app = new Hono();
  const write = requireKey(config.apiKey, 'write');
  app.post('/:id/reject', write, async (c) => {
    if (sharedEvents) {
      // Event ids are the shared database's there, while the crops' embeddings are each node's own.
      throw new HttpError(501, 'not_in_cluster_mode', 'rejecting an event is not available with DATABASE_URL yet');
    }
    const id = eventId(c.req.param('id'));
    const event = cameras.events.get(id);
    if (event === undefined) throw new HttpError(404, 'event_not_found', `no event ${id}`);
    if (event.name === UNKNOWN) {
      throw new HttpError(409, 'event_not_named', `event ${id} named nobody: there is no name to reject`);
    }
    const embedding = await eventFaces.embedding(id);
    if (embedding === undefined) {
      throw new HttpError(409, 'crop_not_found', `event ${id} has no face crop (any more) to learn from`);
    }
    const { negative, created } = await facebank.addNegative(event.name, embedding, { kind: 'event', eventId: id });
    return c.json(negativeMessage(negative, cameras.events), created ? 201 : 200);
  });
  return app;
}

/** GET /api/unknowns: the newest Unknown visits grouped by person. */
export function unknownRoutes({ config, cameras, eventFaces }: AppDeps): Hono {
  const app = new Hono();
  const read = requireKey(config.apiKey, 'read', true);
  app.get('/', read, async (c) => {
    const parsed = UnknownsQuery.safeParse(c.req.query());
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(400, 'invalid_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message}`);
    }
    const clusters = await unknownClusters(cameras.events, eventFaces, {
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
