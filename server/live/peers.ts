// The hub's view of the other nodes (REDIS_URL set). Detections, events and state changes cross nodes through the
// Socket.IO Redis adapter as they are; two things need more:
// - Which cameras exist elsewhere and which are watched elsewhere. Each node announces the cameras it analyses and
//   the cameras its clients subscribe to (a small message on the adapter's server-side channel) when either
//   changes, every ANNOUNCE_MS, and when the link comes back (then asking the others for theirs: what was said
//   while it was down is lost). A node forgets a peer it has not heard for PEER_TTL_MS (it died). A camera makes
//   previews while someone on any node watches it.
// - Preview frames. Their back-pressure (previews.ts) is decided per client, by the node the client is connected
//   to, which the adapter's broadcast cannot do; so a camera's frames go on a Redis channel of their own, published
//   only while some other node watches the camera, and subscribed to by the nodes that have watchers, which send
//   them on to their clients as they would their own frames. At most one frame per camera is in flight to Redis:
//   a slow link skips frames rather than queueing them.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { PreviewMessage } from '../../streams/pipeline/previews.ts';
import type { BoxArray } from '../wire.ts';
import { previewMeta } from './previews.ts';
import type { DetectionsMessage, PreviewMeta } from './protocol.ts';
import type { RedisLink } from './redisLink.ts';
import type { HubServer } from './socket.ts';
import { cameraOfRoom } from './subscriptions.ts';

export const ANNOUNCE_MS = 2000;
const PEER_TTL_MS = 3 * ANNOUNCE_MS;

const CameraIds = z.array(z.string().min(1).max(200)).max(100_000);

/** What a node announces to the others (`peer`, server-side). */
export const PeerState = z.object({
  node: z.string().min(1).max(100),
  cameras: CameraIds,
  watched: CameraIds,
  /** Answer with your own state now (sent when the link is back: what the others said meanwhile was lost). */
  ask: z.boolean().optional(),
});
export type PeerState = z.infer<typeof PeerState>;

/** A relayed preview frame's header (the JPEG follows it). */
const RelayHeader = z.object({
  node: z.string(),
  cameraId: z.string(),
  seq: z.number(),
  detections: z.custom<DetectionsMessage>((v) => typeof v === 'object' && v !== null),
  motion: z.custom<BoxArray[]>((v) => Array.isArray(v)).optional(),
});

const previewChannel = (cameraId: string) => `facerec#preview#${cameraId}#`;

/** [4-byte header length][header JSON][JPEG]. */
function encodeFrame(header: z.infer<typeof RelayHeader>, jpeg: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, jpeg]);
}

function decodeFrame(frame: Buffer): { header: z.infer<typeof RelayHeader>; jpeg: Buffer } | undefined {
  if (frame.length < 4) return undefined;
  const length = frame.readUInt32BE(0);
  if (4 + length > frame.length) return undefined;
  try {
    const header = RelayHeader.safeParse(JSON.parse(frame.subarray(4, 4 + length).toString('utf8')));
    return header.success ? { header: header.data, jpeg: frame.subarray(4 + length) } : undefined;
  } catch {
    return undefined;
  }
}

export interface PeerCounts {
  /** Frames published for watchers on other nodes. */
  previewsRelayed: number;
}

export interface PeersOptions {
  io: HubServer;
  link: RedisLink;
  /** The cameras this node analyses. */
  localCameras: () => Set<string>;
  /** The cameras other nodes analyse, or watch, changed. */
  onChange: (what: { cameras: boolean; watched: boolean }) => void;
  /** Sends a frame from another node to this node's watchers of its camera. */
  deliver: (meta: PreviewMeta, jpeg: Buffer) => void;
  logger: Logger;
}

export interface Peers {
  /** Cameras analysed on other nodes, as they last announced. */
  cameras(): Set<string>;
  watchedElsewhere(cameraId: string): boolean;
  /** Tells the other nodes this node's cameras and watchers now. */
  announce(): void;
  /** Publishes a frame of a camera of this node for its watchers on other nodes. */
  relay(frame: PreviewMessage): void;
  counts(): PeerCounts;
  stop(): void;
}

/** What this node last heard from each other node. */
class PeerTable {
  private readonly peers = new Map<string, PeerState & { at: number }>();

  cameras(): Set<string> {
    return new Set([...this.peers.values()].flatMap((p) => p.cameras));
  }

  watches(cameraId: string): boolean {
    return [...this.peers.values()].some((p) => p.watched.includes(cameraId));
  }

  /** Records a node's state: whether the node is new, and what changed. */
  update(state: PeerState): { isNew: boolean; cameras: boolean; watched: boolean } {
    const before = this.snapshot();
    const isNew = !this.peers.has(state.node);
    this.peers.set(state.node, { ...state, at: Date.now() });
    return { isNew, ...this.changedSince(before) };
  }

  /** Forgets the nodes not heard from for PEER_TTL_MS: which, and what changed. */
  expire(now: number): { gone: string[]; cameras: boolean; watched: boolean } {
    const before = this.snapshot();
    const gone = [...this.peers].filter(([, p]) => now - p.at > PEER_TTL_MS).map(([node]) => node);
    for (const node of gone) this.peers.delete(node);
    return { gone, ...this.changedSince(before) };
  }

  private snapshot() {
    return { cameras: this.cameras(), watched: new Set([...this.peers.values()].flatMap((p) => p.watched)) };
  }

  private changedSince(before: { cameras: Set<string>; watched: Set<string> }) {
    const now = this.snapshot();
    const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
    return { cameras: !same(before.cameras, now.cameras), watched: !same(before.watched, now.watched) };
  }
}

export function attachPeers({ io, link, localCameras, onChange, deliver, logger }: PeersOptions): Peers {
  const log = logger.child({ component: 'peers' });
  const self = randomUUID();
  const peers = new PeerTable();
  const inFlight = new Set<string>();
  const counts: PeerCounts = { previewsRelayed: 0 };
  const watchedHere = () => [...io.sockets.adapter.rooms.keys()].flatMap((r) => cameraOfRoom(r) ?? []);

  const announce = (ask = false) => {
    if (!link.up) return;
    const state: PeerState = {
      node: self,
      cameras: [...localCameras()],
      watched: watchedHere(),
      ...(ask ? { ask } : {}),
    };
    io.serverSideEmit('peer', state);
  };
  const report = (what: { cameras: boolean; watched: boolean }) => {
    if (what.cameras || what.watched) onChange({ cameras: what.cameras, watched: what.watched });
  };
  const onPeer = (message: unknown) => {
    const parsed = PeerState.safeParse(message);
    if (!parsed.success || parsed.data.node === self) return;
    const what = peers.update(parsed.data);
    if (what.isNew) log.info({ peer: parsed.data.node, cameras: parsed.data.cameras.length }, 'node joined');
    // A node that has just joined, or whose link is back, learns of this one at once, not at the next period.
    if (what.isNew || parsed.data.ask) announce();
    report(what);
  };
  io.on('peer', onPeer);

  const onFrame = (message: Buffer) => {
    const frame = decodeFrame(message);
    if (!frame || frame.header.node === self) return;
    const { cameraId, seq, detections } = frame.header;
    deliver({ cameraId, seq, detections }, frame.jpeg);
  };
  // This node receives a camera's frames while it has a room (a watcher) for it.
  const onRoomCreated = (name: string) => {
    const id = cameraOfRoom(name);
    if (id === undefined) return;
    void link.sub.sSubscribe(previewChannel(id), onFrame, true).catch(() => undefined);
    announce();
  };
  const onRoomDeleted = (name: string) => {
    const id = cameraOfRoom(name);
    if (id === undefined) return;
    void link.sub.sUnsubscribe(previewChannel(id), onFrame, true).catch(() => undefined);
    announce();
  };
  io.sockets.adapter.on('create-room', onRoomCreated);
  io.sockets.adapter.on('delete-room', onRoomDeleted);
  const stopOnReady = link.onReady(() => announce(true));

  const timer = setInterval(() => {
    const what = peers.expire(Date.now());
    for (const node of what.gone) log.info({ peer: node }, 'node not heard from: forgotten');
    report(what);
    announce();
  }, ANNOUNCE_MS);
  timer.unref();

  return {
    cameras: () => peers.cameras(),
    watchedElsewhere: (cameraId) => peers.watches(cameraId),
    announce: () => announce(),
    relay(frame) {
      const { cameraId, jpeg } = frame;
      if (!link.up || inFlight.has(cameraId) || !peers.watches(cameraId)) return;
      inFlight.add(cameraId);
      counts.previewsRelayed++;
      link
        .publish(previewChannel(cameraId), encodeFrame({ node: self, ...previewMeta(frame) }, jpeg))
        .catch(() => undefined) // the link is down: the outage is logged by the link
        .finally(() => inFlight.delete(cameraId));
    },
    counts: () => ({ ...counts }),
    stop() {
      clearInterval(timer);
      stopOnReady();
      io.sockets.adapter.off('create-room', onRoomCreated);
      io.sockets.adapter.off('delete-room', onRoomDeleted);
      io.off('peer', onPeer);
    },
  };
}
