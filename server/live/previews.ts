// Preview frames to the clients watching a camera, with back-pressure. Previews are the bulk of the bytes: a
// frame goes only to a client whose outgoing buffers are drained (nothing queued in engine.io, little in the
// WebSocket), so a client that cannot keep up skips frames instead of the server queueing them. A camera makes
// previews only while its room exists (someone subscribes), here or on another node: each costs a resize and a
// JPEG.
import type { PreviewMessage } from '../../streams/pipeline/previews.ts';
import { boxArray } from '../wire.ts';
import { detectionsMessage, type PreviewMeta } from './protocol.ts';
import { backlog, type HubServer, type HubSocket, webSocketOf } from './socket.ts';
import { cameraOfRoom, motionRoom, room } from './subscriptions.ts';

/** Bytes buffered in a client's WebSocket above which it gets no preview frames. */
const MAX_WS_BUFFERED_BYTES = 512 * 1024;

export interface PreviewCounts {
  previewsSent: number;
  /** Preview deliveries skipped because the client's buffers were not drained. */
  previewsSkipped: number;
}

/** Whether the client's outgoing buffers are empty enough for a preview frame. */
function drained(socket: HubSocket): boolean {
  if (backlog(socket) > 0) return false;
  const buffered = webSocketOf(socket)?.bufferedAmount;
  return !(typeof buffered === 'number' && buffered > MAX_WS_BUFFERED_BYTES);
}

/** A frame's header as clients get it; its motion regions (if any) go only to those who asked (deliverPreview). */
export function previewMeta({ cameraId, seq, detections, motion }: PreviewMessage): PreviewMeta {
  return {
    cameraId,
    seq,
    detections: detectionsMessage(detections),
    ...(motion ? { motion: motion.map(boxArray) } : {}),
  };
}

/** Sends one frame of this node's cameras to the camera's room (on this node: see deliverPreview). */
export function sendPreview(io: HubServer, frame: PreviewMessage, counts: PreviewCounts) {
  if (!io.sockets.adapter.rooms.get(room(frame.cameraId))?.size) return;
  const bytes = Buffer.from(frame.jpeg.buffer, frame.jpeg.byteOffset, frame.jpeg.byteLength); // no copy
  deliverPreview(io, previewMeta(frame), bytes, counts);
}

/**
 * Sends one frame to the camera's room on this node (other nodes' watchers get it relayed: peers.ts): to each
 * drained client, at most one waiting behind a send in flight. The frame's motion regions go only to the members
 * of the camera's motion room (who asked for them).
 */
export function deliverPreview(io: HubServer, meta: PreviewMeta, bytes: Buffer, counts: PreviewCounts) {
  const members = io.sockets.adapter.rooms.get(room(meta.cameraId));
  if (!members || members.size === 0) return;
  const skip: string[] = [];
  const busy: string[] = []; // drained, but a send is still in flight
  for (const id of members) {
    const socket = io.sockets.sockets.get(id);
    if (!socket) continue;
    if (!drained(socket)) skip.push(id);
    else if (!socket.conn.transport.writable) busy.push(id);
  }
  counts.previewsSkipped += skip.length;
  const sending = members.size - skip.length;
  if (sending === 0) return;
  counts.previewsSent += sending;
  const { motion, ...plain } = meta;
  const withMotion = [...(motion ? (io.sockets.adapter.rooms.get(motionRoom(meta.cameraId)) ?? []) : [])];
  const variants: { to: string; except: string[]; meta: PreviewMeta }[] = [
    { to: room(meta.cameraId), except: withMotion, meta: plain },
  ];
  if (motion && withMotion.length > 0) variants.push({ to: motionRoom(meta.cameraId), except: [], meta });
  for (const { to, except, meta: message } of variants) {
    // Writable transports: volatile, so a frame that cannot go out at once is dropped, never queued. Local: the
    // Redis adapter would send it to other nodes' clients too, past their own back-pressure.
    io.local
      .to(to)
      .except([...skip, ...busy, ...except])
      .volatile.emit('preview', message, bytes);
    // The WebSocket transport is not writable while any send is in flight (the detections message sent just
    // before, say); with an empty queue, one preview may wait behind it: at most one frame per client, since the
    // next one sees a non-empty queue and is skipped.
    if (busy.length > 0) {
      const waiting = new Set(busy);
      const others = [...members].filter((id) => !waiting.has(id));
      io.local
        .to(to)
        .except([...others, ...except])
        .emit('preview', message, bytes);
    }
  }
}

/**
 * Turns each camera's previews on while its room exists (or `watchedElsewhere`: another node's client watches it)
 * and off when it empties; `sync` sets every camera's state afresh (at start, when the camera list changes: new
 * cameras start with previews on, and when other nodes' watchers change). Returns a function that stops following
 * the rooms.
 */
export function previewsWhileWatched(
  io: HubServer,
  setPreviewEnabled: ((id: string, on: boolean) => void) | undefined,
  watchedElsewhere: (id: string) => boolean = () => false,
): { sync(cameraIds: Iterable<string>): void; stop(): void } {
  const set = (id: string, on: boolean) => {
    try {
      setPreviewEnabled?.(id, on);
    } catch {
      // the camera was removed meanwhile
    }
  };
  const onCreated = (name: string) => {
    const id = cameraOfRoom(name);
    if (id !== undefined) set(id, true);
  };
  const onDeleted = (name: string) => {
    const id = cameraOfRoom(name);
    if (id !== undefined) set(id, watchedElsewhere(id));
  };
  io.sockets.adapter.on('create-room', onCreated);
  io.sockets.adapter.on('delete-room', onDeleted);
  return {
    sync(cameraIds) {
      for (const id of cameraIds) set(id, io.sockets.adapter.rooms.has(room(id)) || watchedElsewhere(id));
    },
    stop() {
      io.sockets.adapter.off('create-room', onCreated);
      io.sockets.adapter.off('delete-room', onDeleted);
    },
  };
}
