// The Socket.IO hub against a stand-in camera registry (no models, no cameras): rooms and subscriptions,
// what each message carries, previews switched on only while watched, and slow clients: a client that stops
// reading skips preview frames, never builds up memory in the server, and is dropped when it stops reading at all.
import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { io, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CameraHealth, Detections, PersonEvent } from '../../streams/types.ts';
import { until as waitUntil } from '../../test/support/waits.ts';
import { attachHub, type Hub } from './hub.ts';
import type {
  ClientToServerEvents,
  PersonEventMessage,
  PreviewMeta,
  ServerToClientEvents,
  SubscribeAck,
} from './protocol.ts';

class FakeRegistry extends EventEmitter {
  ids = ['cam1', 'cam2'];
  readonly previewsOn = new Map<string, boolean>();

  list() {
    return this.ids.map((id) => ({ id }));
  }

  health(): CameraHealth[] {
    return this.ids.map((id) => ({
      id,
      name: id,
      kind: 'rtsp',
      state: 'live',
      inputFps: 15,
      processedFps: 10,
      lagMs: { p50: 50, p95: 80 },
      reconnects: 0,
    }));
  }

  setPreviewEnabled(id: string, on: boolean) {
    if (!this.ids.includes(id)) throw new Error('camera_not_found');
    this.previewsOn.set(id, on);
  }
}

const detections = (cameraId: string, seq: number): Detections => ({
  cameraId,
  seq,
  frameTime: Date.now(),
  width: 640,
  height: 480,
  faces: [{ trackId: 1, box: { x1: 10, y1: 20, x2: 110, y2: 140 }, name: 'penny', score: 0.8, predicted: false }],
});

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Received {
  detections: Parameters<ServerToClientEvents['detections']>[0][];
  previews: Array<{ meta: PreviewMeta; jpeg: Buffer }>;
  events: PersonEventMessage[];
  health: number;
  cameras: number;
}

function connect(
  url: string,
  auth?: Record<string, string>,
  origin?: string,
): Promise<{ socket: ClientSocket; got: Received }> {
  const socket: ClientSocket = io(url, {
    transports: ['websocket'],
    reconnection: false,
    ...(auth ? { auth } : {}),
    // What a browser page sends with its WebSocket handshake.
    ...(origin ? { extraHeaders: { Origin: origin } } : {}),
  });
  const got: Received = { detections: [], previews: [], events: [], health: 0, cameras: 0 };
  socket.on('detections', (d) => got.detections.push(d));
  socket.on('preview', (meta, jpeg) => got.previews.push({ meta, jpeg }));
  socket.on('events', (e) => got.events.push(e));
  socket.on('health', () => got.health++);
  socket.on('cameras', () => got.cameras++);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, got }));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

async function ack(socket: ClientSocket, event: 'subscribe' | 'unsubscribe', request: unknown): Promise<SubscribeAck> {
  return socket.timeout(3000).emitWithAck(event, request);
}

const until = <T>(what: string, check: () => T | undefined | false, timeoutMs = 3000) =>
  waitUntil(what, check, timeoutMs, 20);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Socket.IO hub', () => {
  let http: Server;
  let hub: Hub;
  let registry: FakeRegistry;
  let url: string;
  const sockets: ClientSocket[] = [];

  const start = async (options: { apiKey?: string; maxBacklogPackets?: number } = {}) => {
    http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    registry = new FakeRegistry();
    hub = attachHub({ server: http, registry, logger: pino({ level: 'silent' }), healthIntervalMs: 200, ...options });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  };
  const client = async (auth?: Record<string, string>, origin?: string) => {
    const c = await connect(url, auth, origin);
    sockets.push(c.socket);
    return c;
  };

  beforeEach(async () => {
    await start();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await hub.close();
  });

  it('subscribes to cameras by id or "*", acks what was joined, and validates the request', async () => {
    const { socket, got } = await client();
    expect(await ack(socket, 'subscribe', { cameras: ['cam1', 'nope'] })).toEqual({
      cameras: ['cam1'],
      all: false,
      unknown: ['nope'],
    });
    expect(await ack(socket, 'subscribe', ['cam2'])).toEqual({ cameras: ['cam1', 'cam2'], all: false, unknown: [] });
    expect(await ack(socket, 'unsubscribe', { cameras: ['cam1'] })).toEqual({
      cameras: ['cam2'],
      all: false,
      unknown: [],
    });
    expect(await ack(socket, 'subscribe', { cameras: 42 })).toMatchObject({ error: 'invalid_request' });
    expect(await ack(socket, 'subscribe', { cameras: [''] })).toMatchObject({ error: 'invalid_request' });

    // "*": every camera, including one added later; a removed camera's room is left.
    expect(await ack(socket, 'subscribe', { cameras: ['*'] })).toEqual({
      cameras: ['cam2', 'cam1'],
      all: true,
      unknown: [],
    });
    registry.ids = ['cam1', 'cam3'];
    registry.emit('cameras');
    await until('the cameras message', () => got.cameras > 0);
    registry.emit('detections', detections('cam3', 1));
    await until('detections of the new camera', () => got.detections.length > 0);
    expect(await ack(socket, 'unsubscribe', ['*'])).toEqual({ cameras: [], all: false, unknown: [] });

    // health goes to every client, subscribed or not, about every camera
    await until('health', () => got.health >= 2);
  });

  it('sends detections and previews to the camera subscribers only, events to every client', async () => {
    const a = await client();
    const b = await client();
    await ack(a.socket, 'subscribe', { cameras: ['cam1'] });
    await ack(b.socket, 'subscribe', { cameras: ['cam2'] });

    registry.emit('detections', detections('cam1', 7));
    const jpeg = new Uint8Array(Buffer.from('\xff\xd8 not really a jpeg \xff\xd9', 'latin1'));
    registry.emit('preview', { cameraId: 'cam1', seq: 7, jpeg, detections: detections('cam1', 7) });
    const event: PersonEvent = {
      id: 12,
      type: 'person_appeared',
      cameraId: 'cam1',
      trackId: 1,
      name: 'penny',
      score: 0.8,
      at: Date.now(),
      crop: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]),
    };
    registry.emit('event', event);
    registry.emit('event', { ...event, id: 13, type: 'person_left', crop: undefined });

    await until('everything on a', () => a.got.events.length === 2 && a.got.previews.length === 1);
    expect(a.got.detections.map((d) => d.seq)).toEqual([7]);
    // On the wire a box is [x1, y1, x2, y2].
    expect(a.got.detections[0]!.faces[0]!.box).toEqual([10, 20, 110, 140]);
    const [preview] = a.got.previews;
    expect(preview!.meta).toEqual({ cameraId: 'cam1', seq: 7, detections: expect.objectContaining({ seq: 7 }) });
    expect(Buffer.isBuffer(preview!.jpeg)).toBe(true);
    expect(new Uint8Array(preview!.jpeg)).toEqual(jpeg);
    const { crop: _crop, ...rest } = event;
    expect(a.got.events[0]).toEqual({ ...rest, cropUrl: '/api/events/12/crop' });
    expect(a.got.events[1]).toMatchObject({ id: 13, type: 'person_left', cropUrl: null });
    expect(a.got.events[1]).not.toHaveProperty('crop');
    await until('events on b', () => b.got.events.length === 2);
    expect(b.got.events).toEqual(a.got.events);
    await sleep(200);
    expect(b.got.detections.length + b.got.previews.length).toBe(0);
  });

  it('adds the motion regions to previews only for subscriptions that asked for them', async () => {
    const a = await client();
    const b = await client();
    await ack(a.socket, 'subscribe', { cameras: ['cam1'], motion: true });
    await ack(b.socket, 'subscribe', { cameras: ['cam1'] });
    expect(await ack(b.socket, 'subscribe', { cameras: ['*'], motion: true })).toMatchObject({
      error: 'invalid_request',
    });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xd9]);
    const motion = [{ x1: 4, y1: 8, x2: 40, y2: 60 }];
    registry.emit('preview', { cameraId: 'cam1', seq: 1, jpeg, detections: detections('cam1', 1), motion });
    await until('the preview on both', () => a.got.previews.length === 1 && b.got.previews.length === 1);
    expect(a.got.previews[0]!.meta.motion).toEqual([[4, 8, 40, 60]]);
    expect(b.got.previews[0]!.meta).not.toHaveProperty('motion');

    // Subscribing again without the option stops them; leaving the camera leaves its motion regions too.
    await ack(a.socket, 'subscribe', { cameras: ['cam1'] });
    await ack(b.socket, 'subscribe', { cameras: ['cam1'], motion: true });
    await ack(b.socket, 'unsubscribe', { cameras: ['cam1'] });
    await ack(b.socket, 'subscribe', { cameras: ['cam1'] });
    registry.emit('preview', { cameraId: 'cam1', seq: 2, jpeg, detections: detections('cam1', 2), motion });
    await until('the second preview on both', () => a.got.previews.length === 2 && b.got.previews.length === 2);
    expect(a.got.previews[1]!.meta).not.toHaveProperty('motion');
    expect(b.got.previews[1]!.meta).not.toHaveProperty('motion');
  });

  it('turns a camera’s previews on while someone subscribes to it, off when nobody does', async () => {
    expect(registry.previewsOn.get('cam1')).toBe(false);
    const a = await client();
    await ack(a.socket, 'subscribe', { cameras: ['cam1'] });
    expect(registry.previewsOn.get('cam1')).toBe(true);
    expect(registry.previewsOn.get('cam2')).toBe(false);
    const b = await client();
    await ack(b.socket, 'subscribe', { cameras: ['cam1'] });
    await ack(a.socket, 'unsubscribe', { cameras: ['cam1'] });
    expect(registry.previewsOn.get('cam1')).toBe(true);
    b.socket.close();
    await until('previews off after the last subscriber left', () => registry.previewsOn.get('cam1') === false);
  });

  it('a client that stops reading skips previews without memory building up, while a reading client gets them', async () => {
    const fast = await client();
    const slow = await client();
    await ack(fast.socket, 'subscribe', { cameras: ['cam1'] });
    await ack(slow.socket, 'subscribe', { cameras: ['cam1'] });
    // Stop reading the slow client's TCP socket: the server's kernel and WebSocket buffers fill up.
    const ws = (slow.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } })
      .ws;
    ws._socket.pause();

    const frame = new Uint8Array(1024 * 1024).fill(7); // 1 MB previews, 25 a second: 100 MB in 4 s
    const rssBefore = process.memoryUsage().rss;
    let sent = 0;
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      sent++;
      registry.emit('detections', detections('cam1', sent));
      registry.emit('preview', { cameraId: 'cam1', seq: sent, jpeg: frame, detections: detections('cam1', sent) });
      await sleep(40);
    }
    await sleep(300);
    const stats = hub.stats();
    const serverSide = [...hub.io.sockets.sockets.values()].find((s) => s.id === slow.socket.id)!;
    const buffered = (serverSide.conn.transport as unknown as { socket: { bufferedAmount: number } }).socket
      .bufferedAmount;
    const queued = (serverSide.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
    const rssGrowth = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
    console.log(
      `${sent} previews: fast client got ${fast.got.previews.length}; slow client ${slow.got.previews.length}; ` +
        `skipped ${stats.previewsSkipped}; slow client's server-side buffers: ${(buffered / 1024 / 1024).toFixed(1)} MB in ` +
        `the WebSocket, ${queued} packets queued; RSS +${rssGrowth.toFixed(0)} MB`,
    );
    expect(fast.got.previews.length).toBeGreaterThanOrEqual(sent * 0.8);
    expect(stats.previewsSkipped).toBeGreaterThan(sent * 0.5);
    // At most a couple of frames held for the slow client, however long it stalls.
    expect(buffered).toBeLessThan(3 * frame.byteLength);
    expect(queued).toBeLessThan(sent * 2 + 10);
    expect(queued).toBeGreaterThan(0); // the small messages wait for it (bounded: see the next test)

    // It reads again: previews resume.
    ws._socket.resume();
    const had = slow.got.previews.length;
    await until(
      'the slow client gets previews again',
      () => {
        registry.emit('preview', { cameraId: 'cam1', seq: ++sent, jpeg: frame, detections: detections('cam1', sent) });
        return slow.got.previews.length > had + 2;
      },
      10_000,
    );
  });

  it('a client that does not read at all is disconnected once its queue passes the limit', async () => {
    await hub.close();
    await start({ maxBacklogPackets: 50 });
    const slow = await client();
    await ack(slow.socket, 'subscribe', { cameras: ['cam1'] });
    const ws = (slow.socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws;
    ws._socket.pause();
    const frame = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < 4; i++) {
      registry.emit('preview', { cameraId: 'cam1', seq: i, jpeg: frame, detections: detections('cam1', i) });
      await sleep(50);
    }
    for (let i = 0; i < 200; i++) registry.emit('detections', detections('cam1', i));
    await until('the slow client dropped', () => hub.stats().dropped === 1, 3000);
    // The disconnect completes asynchronously after the drop is counted.
    await until('the slow client is gone', () => hub.stats().clients === 0, 3000);
  });

  it('with an API key, refuses a handshake without it', async () => {
    await hub.close();
    await start({ apiKey: 'hub-test-key-123' });
    await expect(client()).rejects.toThrow(/unauthorized/);
    await expect(client({ apiKey: 'hub-test-key-999' })).rejects.toThrow(/unauthorized/);
    const ok = await client({ apiKey: 'hub-test-key-123' });
    expect(ok.socket.connected).toBe(true);
    // With a key, the key is the guard: a page elsewhere that has it may connect.
    expect((await client({ apiKey: 'hub-test-key-123' }, 'http://dashboard.example')).socket.connected).toBe(true);
  });

  it('without an API key, refuses pages of other sites and accepts its own pages and non-browser clients', async () => {
    await expect(client(undefined, 'http://evil.example')).rejects.toThrow();
    expect((await client(undefined, url)).socket.connected).toBe(true);
    expect((await client()).socket.connected).toBe(true);
  });
});
