// The Socket.IO protocol between the server and its pages: every event, request and acknowledgement, in both
// directions (live results from the hub, WebRTC signalling for webcams). Written once here, so the hub and the
// signalling import it and not each other.
import { z } from 'zod';
import type { StoredEvent } from '../../streams/events.ts';
import type { CameraHealth, Detections, PersonEvent, TrackedFace } from '../../streams/types.ts';
import { type BoxArray, boxArray } from '../wire.ts';

/** A person event as clients see it: the crop as a URL of the REST API instead of bytes. */
export type PersonEventMessage = Omit<PersonEvent, 'crop'> & { cropUrl: string | null };

export function cropUrl(eventId: number): string {
  return `/api/events/${eventId}/crop`;
}

/** A live event (crop bytes, if any) or a stored one (hasCrop) → what clients see. */
export function eventMessage(event: PersonEvent | StoredEvent): PersonEventMessage {
  const { crop, hasCrop, ...rest } = event as PersonEvent & Partial<StoredEvent>;
  const has = hasCrop ?? (crop !== undefined && crop.byteLength > 0);
  return { ...rest, cropUrl: has ? cropUrl(event.id) : null };
}

/** A tracked face as clients see it: the box as an array. */
export type TrackedFaceMessage = Omit<TrackedFace, 'box'> & { box: BoxArray };
export type DetectionsMessage = Omit<Detections, 'faces'> & { faces: TrackedFaceMessage[] };

export function detectionsMessage(detections: Detections): DetectionsMessage {
  return { ...detections, faces: detections.faces.map((f) => ({ ...f, box: boxArray(f.box) })) };
}

export interface PreviewMeta {
  cameraId: string;
  seq: number;
  detections: DetectionsMessage;
  /**
   * The moving regions the motion gate found in this frame (masks and the detection region left out), in the
   * preview's pixels. Only to subscriptions made with `motion: true`, and only for a camera with motion gating on.
   */
  motion?: BoxArray[];
}

/**
 * `subscribe` / `unsubscribe`: `{"cameras": ["id", …]}` or the bare array; "*" means every camera. `motion: true`
 * (named cameras only) adds the motion regions to those cameras' previews; a later `subscribe` to a camera without
 * it stops them.
 */
export const SubscribeRequest = z
  .union([
    z.object({ cameras: z.array(z.string().min(1).max(200)).max(1000), motion: z.boolean().optional() }),
    z.array(z.string().min(1).max(200)).max(1000),
  ])
  .transform((v) => (Array.isArray(v) ? { cameras: v, motion: false } : { cameras: v.cameras, motion: !!v.motion }));

export type SubscribeAck =
  | {
      /** The cameras this client is subscribed to after the request. */
      cameras: string[];
      /** True while the client follows every camera, including cameras added later. */
      all: boolean;
      /** Requested ids that are not cameras (not joined). */
      unknown: string[];
    }
  | { error: string; message: string };

/** `webrtc:publish`: the page's offer; `name` labels the camera on the dashboard. */
export const PublishRequest = z.object({
  // The hub takes messages of up to 64 KB; a browser's video-only offer is a few KB.
  sdp: z.string().min(1).max(60_000),
  name: z.string().trim().max(100).optional(),
});
export type PublishRequest = z.infer<typeof PublishRequest>;

/** `webrtc:stop`: ends the page's webcam. */
export const StopRequest = z.object({ cameraId: z.string().min(1).max(200) });

export type SignallingError = { error: string; message: string };
export type PublishAck = { cameraId: string; sdp: string } | SignallingError;
export type StopAck = { ok: true } | SignallingError;

/** Sent to the publishing page when the server ends its webcam (connection lost, server shutting down, …). */
export interface WebcamEnded {
  cameraId: string;
  reason: string;
}

export interface ServerToClientEvents {
  detections: (detections: DetectionsMessage) => void;
  /** The JPEG is a binary attachment: a Buffer in Node, an ArrayBuffer in browsers. */
  preview: (meta: PreviewMeta, jpeg: Buffer) => void;
  events: (event: PersonEventMessage) => void;
  health: (health: CameraHealth[]) => void;
  /** One camera's state changed (live, stalled, reconnecting, …): sent at once, between health messages. */
  state: (health: CameraHealth) => void;
  /** The camera list changed (added, removed, renamed, …); the list is in GET /api/cameras. */
  cameras: () => void;
  /** The server ended this page's webcam. */
  'webrtc:ended': (message: WebcamEnded) => void;
}

export interface ClientToServerEvents {
  subscribe: (request: unknown, ack?: (reply: SubscribeAck) => void) => void;
  unsubscribe: (request: unknown, ack?: (reply: SubscribeAck) => void) => void;
  /** WebRTC signalling for a browser webcam. */
  'webrtc:publish': (request: unknown, ack?: (reply: PublishAck) => void) => void;
  'webrtc:stop': (request: unknown, ack?: (reply: StopAck) => void) => void;
}
