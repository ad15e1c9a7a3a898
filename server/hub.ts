// Live results over Socket.IO, on the same HTTP server as the REST API. One room per camera: a client
// subscribes to cameras and receives their detections and preview JPEGs; every client gets every camera's
// person events (small and rare, so a timeline needs no previews) and health once a second. Transport only: the camera registry does the work.
//
// Slow clients: previews are the bulk of the bytes and are sent only to a client whose outgoing buffers are
// drained (nothing queued in engine.io, little in the WebSocket), so a client that cannot keep up skips preview
// frames instead of the server queueing them. Detections, events and health are small and always sent; a client
// whose queue grows past MAX_BACKLOG_PACKETS anyway (not reading at all) is disconnected.
import type { EventEmitter } from 'node:events';
import type { ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { type DefaultEventsMap, Server, type Socket } from 'socket.io';
import { z } from 'zod';
import type { StoredEvent } from '../streams/events.ts';
import type { CameraHealth, Detections, PersonEvent } from '../streams/types.ts';
import { fromOwnPage, keyMatches } from './auth.ts';
import type { PublishAck, StopAck, WebcamEnded } from './webrtc.ts';

/** What the hub needs from the camera registry (streams/cameras/registry.ts). */
export interface HubRegistry extends Pick<EventEmitter, 'on' | 'off'> {
  list(): Array<{ id: string }>;
  health(): CameraHealth[];
  /** Previews cost a resize and a JPEG per frame: they are on only while someone subscribes to the camera. */
  setPreviewEnabled?(id: string, on: boolean): void;
}

/** The registry's 'preview' event. */
export interface PreviewFrame {
  cameraId: string;
  seq: number;
  jpeg: Uint8Array;
  detections: Detections;
}

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

export interface PreviewMeta {
  cameraId: string;
  seq: number;
  detections: Detections;
}

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

export interface ServerToClientEvents {
  detections: (detections: Detections) => void;
  /** The JPEG is a binary attachment: a Buffer in Node, an ArrayBuffer in browsers. */
  preview: (meta: PreviewMeta, jpeg: Buffer) => void;
  events: (event: PersonEventMessage) => void;
  health: (health: CameraHealth[]) => void;
  /** One camera's state changed (live, stalled, reconnecting, …): sent at once, between health messages. */
  state: (health: CameraHealth) => void;
  /** The camera list changed (added, removed, renamed, …); the list is in GET /api/cameras. */
  cameras: () => void;
  /** The server ended this page's webcam (server/webrtc.ts). */
  'webrtc:ended': (message: WebcamEnded) => void;
}

export interface ClientToServerEvents {
  subscribe: (request: unknown, ack?: (reply: SubscribeAck) => void) => void;
  unsubscribe: (request: unknown, ack?: (reply: SubscribeAck) => void) => void;
  /** WebRTC signalling for a browser webcam (server/webrtc.ts). */
  'webrtc:publish': (request: unknown, ack?: (reply: PublishAck) => void) => void;
  'webrtc:stop': (request: unknown, ack?: (reply: StopAck) => void) => void;
}

interface SocketData {
  /** Subscribed with "*": new cameras are joined as they appear. */
  all: boolean;
}

type HubServer = Server<ClientToServerEvents, ServerToClientEvents, DefaultEventsMap, SocketData>;
type HubSocket = Socket<ClientToServerEvents, ServerToClientEvents, DefaultEventsMap, SocketData>;

/** `{"cameras": ["id", …]}` or the bare array; "*" means every camera. */
const SubscribeRequest = z
  .union([
    z.object({ cameras: z.array(z.string().min(1).max(200)).max(1000) }),
    z.array(z.string().min(1).max(200)).max(1000),
  ])
  .transform((v) => (Array.isArray(v) ? v : v.cameras));

const ROOM_PREFIX = 'camera:';
const room = (cameraId: string) => `${ROOM_PREFIX}${cameraId}`;

/** More packets than this waiting in engine.io for one client: it is not reading; disconnect it. */
export const MAX_BACKLOG_PACKETS = 1000;
/** Bytes buffered in a client's WebSocket above which it gets no preview frames. */
const MAX_WS_BUFFERED_BYTES = 512 * 1024;

export interface HubOptions {
  server: ServerType;
  registry: HubRegistry;
  /** When set, the handshake must carry it (`auth: { apiKey }`, X-API-Key or Authorization: Bearer). */
  apiKey?: string | undefined;
  logger: Logger;
  /** Health broadcast period (default 1 s); slow clients are checked at the same time. */
  healthIntervalMs?: number;
  /** A client with more packets than this waiting in engine.io is disconnected (default MAX_BACKLOG_PACKETS). */
  maxBacklogPackets?: number;
}

export interface HubStats {
  clients: number;
  /** Clients disconnected because they stopped reading. */
  dropped: number;
  previewsSent: number;
  /** Preview deliveries skipped because the client's buffers were not drained. */
  previewsSkipped: number;
}

export interface Hub {
  readonly io: HubServer;
  stats(): HubStats;
  /** Disconnects every client, stops listening to the registry, and closes the HTTP server. */
  close(): Promise<void>;
}

function presentedKey(socket: HubSocket): string | undefined {
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  if (typeof auth?.apiKey === 'string') return auth.apiKey;
  const headers = socket.handshake.headers;
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  return headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/** Packets waiting in engine.io for the transport (its writeBuffer: public in practice, private in the types). */
function backlog(socket: HubSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/** Whether the client's outgoing buffers are empty enough for a preview frame. */
function drained(socket: HubSocket): boolean {
  const conn = socket.conn;
  if (backlog(socket) > 0) return false;
  // engine.io's WebSocket transport keeps the `ws` socket here; bufferedAmount is what it has not yet sent.
  const ws = (conn.transport as unknown as { socket?: { bufferedAmount?: unknown } }).socket;
  return !(typeof ws?.bufferedAmount === 'number' && ws.bufferedAmount > MAX_WS_BUFFERED_BYTES);
}

export function attachHub({
  server,
  registry,
  apiKey,
  logger,
  healthIntervalMs = 1000,
  maxBacklogPackets = MAX_BACKLOG_PACKETS,
}: HubOptions): Hub {
  const log = logger.child({ component: 'hub' });
  const io: HubServer = new Server(server, {
    serveClient: false,
    // Clients only send small requests: subscriptions, and WebRTC offers of a few KB.
    maxHttpBufferSize: 64 * 1024,
    // Without a key, only this server's own pages (or non-browser clients) may connect: see fromOwnPage.
    allowRequest: (req, callback) => {
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      callback(null, apiKey !== undefined || fromOwnPage(header('origin'), header('host'), header('x-forwarded-host')));
    },
  });
  const stats = { dropped: 0, previewsSent: 0, previewsSkipped: 0 };

  io.use((socket, next) => {
    if (apiKey === undefined || keyMatches(apiKey, presentedKey(socket))) return next();
    const message = 'unauthorized: a valid API key is required (auth: { apiKey } or the X-API-Key header)';
    next(Object.assign(new Error(message), { data: { error: 'unauthorized', message } }));
  });

  const cameraIds = () => new Set(registry.list().map((c) => c.id));
  const subscribed = (socket: HubSocket) =>
    [...socket.rooms].filter((r) => r.startsWith(ROOM_PREFIX)).map((r) => r.slice(ROOM_PREFIX.length));

  io.on('connection', (socket) => {
    socket.data.all = false;
    log.debug({ client: socket.id, address: socket.handshake.address }, 'client connected');
    socket.emit('health', registry.health());

    const handle =
      (join: boolean) =>
      (request: unknown, ack?: (reply: SubscribeAck) => void): void => {
        const reply = (r: SubscribeAck) => {
          if (typeof ack === 'function') ack(r);
        };
        const parsed = SubscribeRequest.safeParse(request);
        if (!parsed.success) {
          reply({
            error: 'invalid_request',
            message: 'expected {"cameras": ["<camera id>", …]} or {"cameras": ["*"]} for every camera',
          });
          return;
        }
        const known = cameraIds();
        const ids = parsed.data;
        const unknown: string[] = [];
        if (ids.includes('*')) {
          socket.data.all = join;
          for (const id of join ? known : subscribed(socket)) {
            if (join) void socket.join(room(id));
            else void socket.leave(room(id));
          }
        } else {
          for (const id of ids) {
            if (join && !known.has(id)) unknown.push(id);
            else if (join) void socket.join(room(id));
            else {
              void socket.leave(room(id));
              // Leaving one camera ends "every camera": later cameras are no longer joined by themselves.
              socket.data.all = false;
            }
          }
        }
        reply({ cameras: subscribed(socket), all: socket.data.all, unknown });
      };
    socket.on('subscribe', handle(true));
    socket.on('unsubscribe', handle(false));
    socket.on('disconnect', (reason) => log.debug({ client: socket.id, reason }, 'client disconnected'));
  });

  const onDetections = (d: Detections) => {
    io.to(room(d.cameraId)).emit('detections', d);
  };

  const onPreview = ({ cameraId, seq, jpeg, detections }: PreviewFrame) => {
    const members = io.sockets.adapter.rooms.get(room(cameraId));
    if (!members || members.size === 0) return;
    const skip: string[] = [];
    const busy: string[] = []; // drained, but a send is still in flight
    for (const id of members) {
      const socket = io.sockets.sockets.get(id);
      if (!socket) continue;
      if (!drained(socket)) skip.push(id);
      else if (!socket.conn.transport.writable) busy.push(id);
    }
    stats.previewsSkipped += skip.length;
    const sending = members.size - skip.length;
    if (sending === 0) return;
    stats.previewsSent += sending;
    const bytes = Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength); // no copy
    const meta: PreviewMeta = { cameraId, seq, detections };
    // Writable transports: volatile, so a frame that cannot go out at once is dropped, never queued.
    io.to(room(cameraId))
      .except([...skip, ...busy])
      .volatile.emit('preview', meta, bytes);
    // The WebSocket transport is not writable while any send is in flight (the detections message sent just
    // before, say); with an empty queue, one preview may wait behind it: at most one frame per client, since the
    // next one sees a non-empty queue and is skipped.
    if (busy.length > 0) {
      const waiting = new Set(busy);
      const others = [...members].filter((id) => !waiting.has(id));
      io.to(room(cameraId)).except(others).emit('preview', meta, bytes);
    }
  };

  const onEvent = (event: PersonEvent) => {
    io.emit('events', eventMessage(event));
  };

  const onCameras = () => {
    const known = cameraIds();
    // New cameras start with previews on: off again unless someone watches.
    for (const id of known) previews(id, watched(room(id)));
    // Rooms of removed cameras are emptied; "*" subscribers join new cameras.
    for (const name of io.sockets.adapter.rooms.keys()) {
      if (name.startsWith(ROOM_PREFIX) && !known.has(name.slice(ROOM_PREFIX.length))) io.socketsLeave(name);
    }
    for (const socket of io.sockets.sockets.values()) {
      if (socket.data.all) for (const id of known) void socket.join(room(id));
    }
    io.emit('cameras');
  };

  const onState = (health: CameraHealth) => {
    io.emit('state', health);
  };

  // A camera's room exists while someone subscribes to it: previews are made only then.
  const previews = (id: string, on: boolean) => {
    try {
      registry.setPreviewEnabled?.(id, on);
    } catch {
      // the camera was removed meanwhile
    }
  };
  const watched = (name: string) => name.startsWith(ROOM_PREFIX) && io.sockets.adapter.rooms.has(name);
  for (const { id } of registry.list()) previews(id, watched(room(id)));
  const onRoomCreated = (name: string) => {
    if (name.startsWith(ROOM_PREFIX)) previews(name.slice(ROOM_PREFIX.length), true);
  };
  const onRoomDeleted = (name: string) => {
    if (name.startsWith(ROOM_PREFIX)) previews(name.slice(ROOM_PREFIX.length), false);
  };
  io.sockets.adapter.on('create-room', onRoomCreated);
  io.sockets.adapter.on('delete-room', onRoomDeleted);

  registry.on('detections', onDetections);
  registry.on('preview', onPreview);
  registry.on('event', onEvent);
  registry.on('cameras', onCameras);
  registry.on('state', onState);

  const timer = setInterval(() => {
    if (io.engine.clientsCount === 0) return;
    for (const socket of io.sockets.sockets.values()) {
      const queued = backlog(socket);
      if (queued > maxBacklogPackets) {
        log.warn({ client: socket.id, queued }, 'client is not reading its messages; disconnecting it');
        stats.dropped++;
        // Terminate the WebSocket rather than wait for a closing handshake it will not read, so its buffers go now.
        const ws = (socket.conn.transport as unknown as { socket?: { terminate?: () => void } }).socket;
        socket.disconnect(true);
        ws?.terminate?.();
      }
    }
    io.emit('health', registry.health());
  }, healthIntervalMs);
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    io,
    stats: () => ({ clients: io.engine.clientsCount, ...stats }),
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        registry.off('detections', onDetections);
        registry.off('preview', onPreview);
        registry.off('event', onEvent);
        registry.off('cameras', onCameras);
        registry.off('state', onState);
        io.sockets.adapter.off('create-room', onRoomCreated);
        io.sockets.adapter.off('delete-room', onRoomDeleted);
        await io.close();
      })();
      return closing;
    },
  };
}
