// Live streams end to end: a real RTSP camera (gst-rtsp-server on 127.0.0.1 serving a clip made from the test
// photos), real ffmpeg, the real models and facebank, a real server, and Socket.IO clients. Also the failures
// cameras have: a server that dies and comes back, one that hangs (SIGSTOP), a bad URL next to a good camera.
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFfmpegPids } from '../streams/sources/ffmpegProcesses.ts';
import type { CameraHealth } from '../streams/types.ts';
import { makePeopleClip, type TempClip } from '../test/support/clips.ts';
import { isAlive } from '../test/support/processes.ts';
import { freePort, type RtspTestServer, startRtspServer, stopAllRtspServers } from '../test/support/rtspServer.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { type Person, personImage } from '../test/support/testdata.ts';
import { until } from '../test/support/waits.ts';
import type {
  ClientToServerEvents,
  DetectionsMessage,
  PersonEventMessage,
  PreviewMeta,
  ServerToClientEvents,
  SubscribeAck,
  TrackedFaceMessage,
} from './live/protocol.ts';

// ---- helpers: every wait is bounded

const IN_CLIP: Person[] = ['penny', 'raj', 'amy', 'howard'];
const ENROLLED = IN_CLIP.flatMap((person) => [1, 2].map((n) => ({ person, src: personImage(person, n) })));
const PREVIEW_WIDTH = 320; // the clip is 640 wide: preview boxes are the detections' boxes × 0.5
const API_KEY = 'stream-test-key-0123';
// Bound for waits that are not product promises (first connection, detections, events): generous, so that a
// 2-core machine busy with other work still passes; the figures are printed.
const LOADED = 30_000;
// Issue 11 promises a camera live again within 5 s of its RTSP server listening again, however busy the pool is.
// (The 6.5 s and 12 s misses of earlier runs were the test camera's: see playing() in test/support/rtsp_server.py.)
const RECOVERY_MS = 5000;

interface CameraBody {
  id: string;
  name: string;
  url: string;
  enabled: boolean;
  kind: string;
  persistent: boolean;
  health: CameraHealth;
}

async function api<T = unknown>(
  base: string,
  method: string,
  path: string,
  json?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await fetch(base + path, {
    method,
    headers: { ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  const type = res.headers.get('content-type') ?? '';
  const body = (type.includes('json') ? await res.json() : new Uint8Array(await res.arrayBuffer())) as T;
  return { status: res.status, body, headers: res.headers };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
type Subscribed = Exclude<SubscribeAck, { error: string }>;

/** A Socket.IO client that keeps what it receives (the last few hundred messages of each kind). */
class Client {
  readonly detections: DetectionsMessage[] = [];
  readonly previews: Array<{ meta: PreviewMeta; jpeg: Buffer; at: number }> = [];
  readonly events: PersonEventMessage[] = [];
  readonly health: Array<{ at: number; cameras: CameraHealth[] }> = [];
  readonly states: Array<{ at: number; health: CameraHealth }> = [];

  private constructor(readonly socket: ClientSocket) {
    const keep = <T>(list: T[], item: T, max: number) => {
      list.push(item);
      if (list.length > max) list.shift();
    };
    socket.on('detections', (d) => keep(this.detections, d, 2000));
    socket.on('preview', (meta, jpeg) => keep(this.previews, { meta, jpeg, at: Date.now() }, 100));
    socket.on('events', (e) => keep(this.events, e, 500));
    socket.on('health', (cameras) => keep(this.health, { at: Date.now(), cameras }, 300));
    socket.on('state', (health) => keep(this.states, { at: Date.now(), health }, 500));
  }

  static connect(url: string, options: { auth?: Record<string, string>; headers?: Record<string, string> } = {}) {
    const socket: ClientSocket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      timeout: 5000,
      ...(options.auth ? { auth: options.auth } : {}),
      ...(options.headers ? { extraHeaders: options.headers } : {}),
    });
    return new Promise<Client>((resolve, reject) => {
      socket.once('connect', () => resolve(new Client(socket)));
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
    });
  }

  subscribe(cameras: string[]): Promise<Subscribed> {
    return this.request('subscribe', cameras);
  }

  unsubscribe(cameras: string[]): Promise<Subscribed> {
    return this.request('unsubscribe', cameras);
  }

  private async request(event: 'subscribe' | 'unsubscribe', cameras: string[]): Promise<Subscribed> {
    const ack = await this.socket.timeout(5000).emitWithAck(event, { cameras });
    if ('error' in ack) throw new Error(`${event} refused: ${ack.message}`);
    return ack;
  }

  lastHealth(id: string): CameraHealth | undefined {
    return this.health.at(-1)?.cameras.find((h) => h.id === id);
  }

  close(): void {
    this.socket.close();
  }
}

const named = (faces: readonly TrackedFaceMessage[]) => faces.map((f) => f.name).filter((n) => n !== 'Unknown');

// ---- the tests

describe('live streams over Socket.IO and REST (RTSP camera, real models)', () => {
  let clip: TempClip;
  let rtsp: RtspTestServer;
  let server: TestServer;
  let client: Client;
  let cameraId = '';
  let restartedAt = 0;
  const ffmpegPids = new Set<number>();
  const collectPids = setInterval(() => {
    for (const pid of liveFfmpegPids()) ffmpegPids.add(pid);
  }, 100);

  beforeAll(async () => {
    clip = await makePeopleClip(IN_CLIP);
    rtsp = await startRtspServer({ clip: clip.path });
    // Warnings are expected here (cameras failing on purpose): print errors only.
    server = await startTestServer({
      facebank: ENROLLED,
      config: { previewWidth: PREVIEW_WIDTH },
      printLevel: 'error',
    });
  });

  afterAll(async () => {
    clearInterval(collectPids);
    client?.close();
    await server?.close();
    await stopAllRtspServers();
    await clip?.remove();
  });

  const health = async (id: string): Promise<CameraHealth> => {
    const r = await api<CameraBody>(server.url, 'GET', `/api/cameras/${id}`);
    expect(r.status).toBe(200);
    return r.body.health;
  };

  it('a subscriber to a live camera gets detections naming the enrolled people, and previews with their own detections', async () => {
    client = await Client.connect(server.url);
    const added = await api<CameraBody>(server.url, 'POST', '/api/cameras', { name: 'front door', url: rtsp.url });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    cameraId = added.body.id;
    expect(added.body).toMatchObject({
      name: 'front door',
      url: rtsp.url,
      enabled: true,
      kind: 'rtsp',
      persistent: true,
    });
    const addedAt = Date.now();
    await until('the camera live', async () => ((await health(cameraId)).state === 'live' ? true : undefined), LOADED);
    const liveAfter = Date.now() - addedAt;
    const start = Date.now();
    const ack = await client.subscribe([cameraId, 'no-such-camera']);
    expect(ack).toEqual({ cameras: [cameraId], all: false, unknown: ['no-such-camera'] });

    const first = await until(
      'detections with an enrolled name',
      () => client.detections.find((d) => d.cameraId === cameraId && named(d.faces).length > 0),
      LOADED,
    );
    console.log(
      `camera live ${liveAfter} ms after POST /api/cameras; first named detection ${Date.now() - start} ms after ` +
        `subscribing: ${named(first.faces)}`,
    );
    expect(IN_CLIP as string[]).toContain(named(first.faces)[0]);

    // Over the clip's 6-second loop, most of the four people are named, and nobody else is.
    await until(
      'three of the four people named',
      () => new Set(client.detections.flatMap((d) => named(d.faces))).size >= 3 || undefined,
      LOADED * 2,
    );
    const names = new Set(client.detections.flatMap((d) => named(d.faces)));
    for (const name of names) expect(IN_CLIP as string[]).toContain(name);
    for (const d of client.detections) {
      expect(d).toMatchObject({ cameraId, width: 640, height: 480 });
      for (const f of d.faces) expect(f.box).toHaveLength(4);
    }

    // A preview carries the detections of its own frame, in the preview's pixels.
    const pair = await until(
      'a preview whose frame was processed, with a named face',
      () => {
        for (const p of client.previews) {
          const d = client.detections.find((x) => x.seq === p.meta.seq);
          if (d && named(d.faces).length > 0) return { p, d };
        }
        return undefined;
      },
      LOADED,
    );
    const { p, d } = pair;
    expect(p.meta.cameraId).toBe(cameraId);
    expect(p.meta.detections.seq).toBe(p.meta.seq);
    expect(p.meta.detections.frameTime).toBe(d.frameTime);
    expect(p.meta.detections.faces.map((f) => f.name)).toEqual(d.faces.map((f) => f.name));
    const sx = p.meta.detections.width / d.width;
    expect(sx).toBeCloseTo(PREVIEW_WIDTH / 640, 3);
    for (const [i, f] of p.meta.detections.faces.entries()) {
      const box = d.faces[i]!.box;
      for (let k = 0; k < 4; k++) expect(f.box[k]!).toBeCloseTo(box[k]! * sx, 1);
    }
    expect(Buffer.isBuffer(p.jpeg)).toBe(true);
    const meta = await sharp(p.jpeg).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
      format: 'jpeg',
      width: p.meta.detections.width,
      height: p.meta.detections.height,
    });
    expect(meta.width).toBe(PREVIEW_WIDTH);

    // Previews at up to the configured 10/s, detections at up to 10/s (the clip is 15 fps): both keep coming;
    // their rates depend on the machine's load and are measured by `npm run bench:streams`.
    const previewsLast5s = client.previews.filter((x) => x.at > Date.now() - 5000).length;
    const h = await health(cameraId);
    console.log(`camera health: ${JSON.stringify(h)}; previews in the last 5 s: ${previewsLast5s}`);
    expect(h.state).toBe('live');
    expect(previewsLast5s).toBeGreaterThan(0);
    expect(h.processedFps).toBeGreaterThan(0);
    expect(client.lastHealth(cameraId)?.state).toBe('live');
  });

  it('person_appeared arrives on `events`, and GET /api/events lists it with a working crop URL', async () => {
    const appeared = await until(
      'a person_appeared event with a name',
      () => client.events.find((e) => e.type === 'person_appeared' && e.name !== 'Unknown'),
      LOADED,
    );
    expect(appeared).toMatchObject({ cameraId, type: 'person_appeared' });
    expect(IN_CLIP as string[]).toContain(appeared.name);
    expect(appeared).not.toHaveProperty('crop');
    expect(appeared.cropUrl).toBe(`/api/events/${appeared.id}/crop`);

    const listed = await api<PersonEventMessage[]>(server.url, 'GET', `/api/events?camera=${cameraId}&limit=1000`);
    expect(listed.status).toBe(200);
    expect(listed.body.find((e) => e.id === appeared.id)).toEqual(appeared);
    const byName = await api<PersonEventMessage[]>(server.url, 'GET', `/api/events?name=${appeared.name}`);
    expect(byName.body.length).toBeGreaterThan(0);
    for (const e of byName.body) expect(e.name).toBe(appeared.name);
    const since = await api<PersonEventMessage[]>(server.url, 'GET', `/api/events?since=${Date.now() + 60_000}`);
    expect(since.body).toEqual([]);
    expect((await api(server.url, 'GET', '/api/events?limit=0')).status).toBe(400);

    const crop = await api<Uint8Array>(server.url, 'GET', appeared.cropUrl!);
    expect(crop.status).toBe(200);
    expect(crop.headers.get('content-type')).toBe('image/jpeg');
    const info = await sharp(crop.body).metadata();
    expect(info.format).toBe('jpeg');
    expect(info.width).toBeGreaterThan(20);
    const missing = await api<{ error: string }>(server.url, 'GET', '/api/events/999999999/crop');
    expect({ status: missing.status, error: missing.body.error }).toEqual({ status: 404, error: 'crop_not_found' });
  });

  it('two cameras, one with a bad URL: the good one keeps its fps, the bad one reports its error', async () => {
    await sleep(1000);
    const before = (await health(cameraId)).processedFps;
    const bad = await api<CameraBody>(server.url, 'POST', '/api/cameras', {
      name: 'nobody home',
      url: `rtsp://user:secret@127.0.0.1:${await freePort()}/none`,
    });
    expect(bad.status).toBe(201);
    expect(bad.body.url).not.toContain('secret');
    const badId = bad.body.id;
    expect((await client.subscribe(['*'])).cameras.sort()).toEqual([cameraId, badId].sort());

    const failing = await until(
      'the bad camera to report its error',
      async () => {
        const h = await health(badId);
        return h.state === 'reconnecting' && h.lastError ? h : undefined;
      },
      LOADED,
    );
    expect(failing.lastError).toMatch(/connection refused/i);
    expect(JSON.stringify(failing)).not.toContain('secret');
    // Over a full 5-second health window with the bad camera retrying next to it: the good camera stays live and
    // its detections keep coming, never stopping as long as the stall watchdog (5 s). Its rate before and after is
    // printed, not bounded: other work on the machine moves it more than the bad camera does.
    const windowStart = Date.now();
    await sleep(5500);
    const good = await health(cameraId);
    const badNow = await health(badId);
    const times = client.detections.filter((d) => d.cameraId === cameraId && d.frameTime >= windowStart);
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]!.frameTime - times[i - 1]!.frameTime);
    console.log(
      `good camera: ${before} → ${good.processedFps} detections/s, longest gap ${gap} ms; ` +
        `bad camera: ${JSON.stringify(badNow)}`,
    );
    expect(good.state).toBe('live');
    expect(times.length).toBeGreaterThan(0);
    expect(good.processedFps).toBeGreaterThan(0);
    expect(gap).toBeLessThan(5000);
    expect(badNow.state).not.toBe('live');
    expect(badNow.reconnects).toBeGreaterThan(1);
    expect(client.lastHealth(badId)?.lastError).toMatch(/connection refused/i);

    expect((await api(server.url, 'DELETE', `/api/cameras/${badId}`)).status).toBe(204);
    const gone = await api<{ error: string }>(server.url, 'GET', `/api/cameras/${badId}`);
    expect({ status: gone.status, error: gone.body.error }).toEqual({ status: 404, error: 'camera_not_found' });
    const list = await api<CameraBody[]>(server.url, 'GET', '/api/cameras');
    expect(list.body.map((c) => c.id)).toEqual([cameraId]);
  });

  it('a camera server that dies: reconnecting, then live again soon after its restart', async () => {
    const killedAt = Date.now();
    await rtsp.kill();
    await until(
      'reconnecting after the kill',
      () =>
        client.states.find((s) => s.at >= killedAt && s.health.id === cameraId && s.health.state === 'reconnecting'),
      LOADED,
    );
    expect((await health(cameraId)).state).not.toBe('live');

    // The promise counts from when the server listens again (its own start-up is the test's, not the product's),
    // and 'live' means frames flow again: detections follow when the pool gets to them.
    const restarting = Date.now();
    await rtsp.restart();
    restartedAt = Date.now();
    const live = await until(
      'the live state after the restart',
      () => client.states.find((s) => s.at >= restartedAt && s.health.id === cameraId && s.health.state === 'live'),
      RECOVERY_MS,
    );
    const detected = await until(
      'detections of a frame after the restart',
      () =>
        client.detections.some((d) => d.cameraId === cameraId && d.frameTime > restartedAt) ? Date.now() : undefined,
      LOADED,
    );
    console.log(
      `RTSP server listening ${restartedAt - restarting} ms after restart(); live again ${live.at - restartedAt} ms ` +
        `later, first detections ${detected - restartedAt} ms later`,
    );
    expect(live.at - restartedAt).toBeLessThanOrEqual(RECOVERY_MS);
    const h = await health(cameraId);
    expect(h.state).toBe('live');
    expect(h.reconnects).toBeGreaterThan(0);
    const count = client.detections.filter((d) => d.frameTime > restartedAt).length;
    await until(
      'more detections',
      () => client.detections.filter((d) => d.frameTime > restartedAt).length > count + 3 || undefined,
      LOADED,
    );
  });

  it('a camera server that hangs (SIGSTOP): stalled within the watchdog time, live again after SIGCONT', async () => {
    // After 10 s live a source retries at once (its backoff resets): recovery then does not depend on the history.
    await until(
      'ten seconds live since the restart',
      async () => {
        const since = client.detections.find((d) => d.cameraId === cameraId && d.frameTime > restartedAt)?.frameTime;
        return since !== undefined && Date.now() - since > 10_500 && (await health(cameraId)).state === 'live';
      },
      10_500 + LOADED,
    );
    const pausedAt = Date.now();
    rtsp.pause();
    try {
      const stalled = await until(
        'the stalled state',
        () => client.states.find((s) => s.at >= pausedAt && s.health.id === cameraId && s.health.state === 'stalled'),
        5000 + 5000, // the source's watchdog is 5 s, checked twice a second; timers run late on a busy machine
      );
      console.log(`stalled ${stalled.at - pausedAt} ms after SIGSTOP: ${stalled.health.lastError}`);
      expect(stalled.health.lastError).toMatch(/stalled/);
      expect((await health(cameraId)).state).not.toBe('live');
    } finally {
      rtsp.resume();
    }
    const resumedAt = Date.now();
    await until(
      'frames after SIGCONT',
      () => client.detections.find((d) => d.cameraId === cameraId && d.frameTime > resumedAt),
      10_000 + LOADED, // the decoder restarted at the stall may be waiting out its 10-s connect timeout
    );
    console.log(`frames again ${Date.now() - resumedAt} ms after SIGCONT`);
    await until('state live', async () => ((await health(cameraId)).state === 'live' ? true : undefined), LOADED);
  });

  it('subscribe validates its request; unsubscribe stops the messages', async () => {
    const bad = await client.socket.timeout(5000).emitWithAck('subscribe', { cameras: 'all' });
    expect(bad).toMatchObject({ error: 'invalid_request' });
    const other = await Client.connect(server.url);
    try {
      await other.subscribe([cameraId]);
      await until('detections on the second client', () => other.detections[0], LOADED);
      expect(await other.unsubscribe([cameraId])).toEqual({ cameras: [], all: false, unknown: [] });
      await sleep(300);
      const n = other.detections.length + other.previews.length;
      await sleep(1000);
      expect(other.detections.length + other.previews.length).toBe(n);
      // health goes to every client, subscribed or not
      expect(other.health.length).toBeGreaterThan(0);
    } finally {
      other.close();
    }
  });

  it('with an API key: a socket without it is refused, with it (auth or header) connects; REST needs it too', async () => {
    const keyed = await startTestServer({ config: { apiKey: API_KEY, poolSize: 1 } });
    try {
      await expect(Client.connect(keyed.url)).rejects.toThrow(/unauthorized/);
      await expect(Client.connect(keyed.url, { auth: { apiKey: 'wrong-key-000' } })).rejects.toThrow(/unauthorized/);
      const byAuth = await Client.connect(keyed.url, { auth: { apiKey: API_KEY } });
      const byHeader = await Client.connect(keyed.url, { headers: { 'x-api-key': API_KEY } });
      expect(byAuth.socket.connected && byHeader.socket.connected).toBe(true);
      await until('health on the keyed socket', () => byAuth.health[0], LOADED);
      byAuth.close();
      byHeader.close();

      expect((await api(keyed.url, 'GET', '/api/cameras')).status).toBe(401);
      expect((await api(keyed.url, 'GET', '/api/events')).status).toBe(401);
      const withKey = await api(keyed.url, 'GET', '/api/cameras', undefined, { 'x-api-key': API_KEY });
      expect({ status: withKey.status, body: withKey.body }).toEqual({ status: 200, body: [] });
      const invalid = await api<{ error: string }>(
        keyed.url,
        'POST',
        '/api/cameras',
        { name: 'x', url: 'http://example.com/stream' },
        { 'x-api-key': API_KEY },
      );
      expect({ status: invalid.status, error: invalid.body.error }).toEqual({ status: 400, error: 'invalid_camera' });
    } finally {
      await keyed.close();
    }
  });

  it('shutdown leaves no ffmpeg or RTSP server process behind', async () => {
    for (const pid of liveFfmpegPids()) ffmpegPids.add(pid);
    expect(ffmpegPids.size).toBeGreaterThan(0);
    const rtspPid = rtsp.pid;
    expect(rtspPid).toBeDefined();
    const disconnected = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
    await server.close();
    expect(await Promise.race([disconnected, sleep(3000).then(() => 'still connected')])).not.toBe('still connected');
    expect(liveFfmpegPids()).toEqual([]);
    for (const pid of ffmpegPids) expect(isAlive(pid), `ffmpeg ${pid}`).toBe(false);
    await rtsp.stop();
    expect(isAlive(rtspPid!)).toBe(false);
    let children = '';
    try {
      children = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    } catch {
      // exit 1: no child at all
    }
    expect(children).not.toMatch(/ffmpeg|python|setpriv/);
  });
});
