// Live results over Socket.IO, on the same HTTP server as the REST API. One room per camera: a client
// subscribes to cameras and receives their detections and preview JPEGs (previews.ts: with back-pressure); every
// client gets every camera's person events (small and rare, so a timeline needs no previews) and health once a
// second. Transport only: the camera registry does the work. A client whose queue grows past MAX_BACKLOG_PACKETS
// anyway (not reading at all) is disconnected. With a Redis link (REDIS_URL), the nodes' hubs act as one: a client
// on any node subscribes to any node's cameras and gets every node's events (peers.ts); health stays per node.
import type { EventEmitter } from 'node:events';
import type { ServerType } from '@hono/node-server';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Logger } from 'pino';
import { Server, type ServerOptions } from 'socket.io';
import type { PreviewMessage } from '../../streams/pipeline/previews.ts';
import type { CameraHealth, Detections, PersonEvent } from '../../streams/types.ts';
import { attachPeers, type PeerCounts, type Peers } from './peers.ts';
import { deliverPreview, type PreviewCounts, previewsWhileWatched, sendPreview } from './previews.ts';
import { detectionsMessage, eventMessage } from './protocol.ts';
import type { RedisLink } from './redisLink.ts';
import { backlog, type HubServer, webSocketOf } from './socket.ts';
import { allowRequestFor, requireKey } from './socketAuth.ts';
import { followCameraList, room, subscriptionHandler } from './subscriptions.ts';

/** What the hub needs from the camera registry (streams/cameras/registry.ts). */
export interface HubRegistry extends Pick<EventEmitter, 'on' | 'off'> {
  list(): Array<{ id: string }>;
  health(): CameraHealth[];
  /** Previews cost a resize and a JPEG per frame: they are on only while someone subscribes to the camera. */
  setPreviewEnabled?(id: string, on: boolean): void;
}

/** More packets than this waiting in engine.io for one client: it is not reading; disconnect it. */
export const MAX_BACKLOG_PACKETS = 1000;

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
  /** Other nodes' hubs, through Redis (REDIS_URL); without it, this node's cameras and clients only. */
  redis?: RedisLink | undefined;
}

export interface HubStats extends PreviewCounts, PeerCounts {
  clients: number;
  /** Clients disconnected because they stopped reading. */
  dropped: number;
}

export interface Hub {
  readonly io: HubServer;
  stats(): HubStats;
  /** Disconnects every client, stops listening to the registry, and closes the HTTP server. */
  close(): Promise<void>;
}

/** Disconnects the clients that stopped reading; returns how many. */
function dropStalled(io: HubServer, maxBacklogPackets: number, log: Logger): number {
  let dropped = 0;
  for (const socket of io.sockets.sockets.values()) {
    const queued = backlog(socket);
    if (queued <= maxBacklogPackets) continue;
    log.warn({ client: socket.id, queued }, 'client is not reading its messages; disconnecting it');
    dropped++;
    // Terminate the WebSocket rather than wait for a closing handshake it will not read, so its buffers go now.
    const ws = webSocketOf(socket);
    socket.disconnect(true);
    ws?.terminate?.();
  }
  return dropped;
}

export function attachHub({
  server,
  registry,
  apiKey,
  logger,
  healthIntervalMs = 1000,
  maxBacklogPackets = MAX_BACKLOG_PACKETS,
  redis,
}: HubOptions): Hub {
  const log = logger.child({ component: 'hub' });
  const options: Partial<ServerOptions> = {
    serveClient: false,
    // Clients only send small requests: subscriptions, and WebRTC offers of a few KB.
    maxHttpBufferSize: 64 * 1024,
    allowRequest: allowRequestFor(apiKey),
  };
  if (redis) {
    // Sharded: each camera room has its own channel, which only the nodes with a client in the room subscribe
    // to, so a node receives the detections of the cameras its clients watch, not every camera's (the classic
    // adapter sends every broadcast to every node). Redis 7.0 has sharded Pub/Sub; it also works on a Redis
    // Cluster unchanged.
    const { pub, sub } = redis.adapterClients();
    options.adapter = createShardedAdapter(pub, sub);
  }
  const io: HubServer = new Server(server, options);
  requireKey(io, apiKey);
  const stats = { dropped: 0, previewsSent: 0, previewsSkipped: 0 };
  const localCameraIds = () => new Set(registry.list().map((c) => c.id));
  let peers: Peers | undefined;
  /** The cameras a client may subscribe to: this node's, and the other nodes'. */
  const cameraIds = () => (peers ? new Set([...localCameraIds(), ...peers.cameras()]) : localCameraIds());

  io.on('connection', (socket) => {
    socket.data.all = false;
    log.debug({ client: socket.id, address: socket.handshake.address }, 'client connected');
    socket.emit('health', registry.health());
    socket.on('subscribe', subscriptionHandler(socket, true, cameraIds));
    socket.on('unsubscribe', subscriptionHandler(socket, false, cameraIds));
    socket.on('disconnect', (reason) => log.debug({ client: socket.id, reason }, 'client disconnected'));
  });

  const previews = previewsWhileWatched(
    io,
    registry.setPreviewEnabled?.bind(registry),
    (id) => peers?.watchedElsewhere(id) ?? false,
  );
  if (redis) {
    peers = attachPeers({
      io,
      link: redis,
      localCameras: localCameraIds,
      onChange: (what) => {
        if (what.watched) previews.sync(localCameraIds());
        if (what.cameras) followCameraList(io, cameraIds(), true);
      },
      deliver: (meta, jpeg) => deliverPreview(io, meta, jpeg, stats),
      logger,
    });
  }
  previews.sync(localCameraIds());
  // Detections, events, state changes and the camera list go to every node's clients (through the adapter).
  const listeners = {
    detections: (d: Detections) => io.to(room(d.cameraId)).emit('detections', detectionsMessage(d)),
    preview: (frame: PreviewMessage) => {
      sendPreview(io, frame, stats);
      peers?.relay(frame);
    },
    event: (event: PersonEvent) => io.emit('events', eventMessage(event)),
    cameras: () => {
      // New cameras start with previews on: off again unless someone watches.
      previews.sync(localCameraIds());
      followCameraList(io, cameraIds(), peers !== undefined);
      peers?.announce();
      io.emit('cameras');
    },
    state: (health: CameraHealth) => io.emit('state', health),
  };
  for (const [name, listener] of Object.entries(listeners)) registry.on(name, listener);

  const timer = setInterval(() => {
    if (io.engine.clientsCount === 0) return;
    stats.dropped += dropStalled(io, maxBacklogPackets, log);
    // This node's cameras: each node tells its own clients.
    io.local.emit('health', registry.health());
  }, healthIntervalMs);
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    io,
    stats: () => ({ clients: io.engine.clientsCount, ...stats, previewsRelayed: peers?.counts().previewsRelayed ?? 0 }),
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        for (const [name, listener] of Object.entries(listeners)) registry.off(name, listener);
        previews.stop();
        peers?.stop();
        await io.close();
      })();
      return closing;
    },
  };
}
