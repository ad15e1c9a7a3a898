// The JSON the integrations send: events (MQTT and webhooks alike), a camera's view, a person's sighting. Written
// once here; the README's Integrations section shows them.
import { z } from 'zod';
import { UNKNOWN } from '../../facebank/matcher.ts';
import type { PersonEvent } from '../../streams/types.ts';
import type { CameraView, Sighting } from './presence.ts';

export const EventPayload = z.object({
  type: z.enum(['person_appeared', 'person_left']),
  /** The event's id in /api/events. */
  id: z.number(),
  camera: z.string(),
  cameraName: z.string(),
  name: z.string(),
  /** False for `Unknown`. */
  known: z.boolean(),
  score: z.number(),
  trackId: z.number(),
  /** Epoch milliseconds, and the same as ISO 8601. */
  at: z.number(),
  time: z.string(),
  /** The best face crop's JPEG, when the event has one. */
  cropUrl: z.string().optional(),
});
export type EventPayload = z.infer<typeof EventPayload>;

export const PeoplePayload = z.object({
  camera: z.string(),
  cameraName: z.string(),
  /** Each name in view once, `Unknown` included. */
  people: z.array(z.string()),
  known: z.array(z.string()),
  /** Visits (faces tracked) in view. */
  count: z.number(),
  at: z.number(),
});
export type PeoplePayload = z.infer<typeof PeoplePayload>;

export const PersonPayload = z.object({
  name: z.string(),
  inView: z.boolean(),
  cameras: z.array(z.string()),
  lastCamera: z.string().optional(),
  lastCameraName: z.string().optional(),
  lastSeen: z.string().optional().describe('ISO 8601'),
  at: z.number().optional(),
});
export type PersonPayload = z.infer<typeof PersonPayload>;

/** `base` is the server's public URL (no trailing slash). */
export function eventPayload(event: PersonEvent, cameraName: string, base: string): EventPayload {
  return {
    type: event.type,
    id: event.id,
    camera: event.cameraId,
    cameraName,
    name: event.name,
    known: event.name !== UNKNOWN,
    score: Math.round(event.score * 1000) / 1000,
    trackId: event.trackId,
    at: event.at,
    time: new Date(event.at).toISOString(),
    ...(event.crop && event.crop.byteLength > 0 ? { cropUrl: `${base}/api/events/${event.id}/crop` } : {}),
  };
}

export function peoplePayload(cameraId: string, cameraName: string, view: CameraView, at: number): PeoplePayload {
  return { camera: cameraId, cameraName, ...view, at };
}

export function personPayload(name: string, s: Sighting, cameraName: (id: string) => string): PersonPayload {
  return {
    name,
    inView: s.inView,
    cameras: s.cameras,
    ...(s.lastCamera !== undefined ? { lastCamera: s.lastCamera, lastCameraName: cameraName(s.lastCamera) } : {}),
    ...(s.lastSeen !== undefined ? { lastSeen: new Date(s.lastSeen).toISOString(), at: s.lastSeen } : {}),
  };
}
