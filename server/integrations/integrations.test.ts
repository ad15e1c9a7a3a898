// The integrations end to end: a real mosquitto on 127.0.0.1, a real server with a file camera showing two
// enrolled people and a stranger (real ffmpeg, models and facebank), webhook receivers on loopback. What a Home
// Assistant or an automation would see: retained state, events, discovery configs; a removed person's configs
// cleared; a broker outage that costs the pipeline nothing and loses no event; signed webhooks, and retries.
// MQTT_SUB_LOG=<file> also records `mosquitto_sub -v -t 'facerec/#' -t 'homeassistant/#'` into that file.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Detections, PersonEvent } from '../../streams/types.ts';
import { makeTestClip, writeEmptyImage } from '../../test/support/clips.ts';
import { type Mosquitto, startMosquitto } from '../../test/support/mosquitto.ts';
import { terminate } from '../../test/support/rtspServer.ts';
import { startTestServer, type TestServer } from '../../test/support/server.ts';
import { type Person, personImage } from '../../test/support/testdata.ts';
import { until as waitUntil } from '../../test/support/waits.ts';
import { Health } from '../schemas.ts';
import { FrigateResult } from './frigate.ts';
import type { IntegrationsHealth } from './health.ts';
import { EventPayload, PeoplePayload, PersonPayload } from './payloads.ts';
import { signature } from './webhooks.ts';

const ENROLLED: Person[] = ['penny', 'raj', 'amy'];
const IN_CLIP: Person[] = ['penny', 'raj', 'sheldon']; // sheldon is nobody the facebank knows: Unknown
const SECRET = 'hook-secret-0123';
const GHOST = 'homeassistant/sensor/facerec_person_ghost_last_camera/config';
const OTHER = 'homeassistant/sensor/facerec_other/config';
const FRIGATE_ID = '1700000000.123456-abc123';
const RETRIES = 2;
// Bound for waits that are not product promises (first events on a loaded 2-core machine); generous.
const LOADED = 60_000;
const OUTAGE_MS = 10_000;
const SECONDS_PER_IMAGE = 1.5;
// The three faces, then nobody for longer than a visit's cooldown (10 s), so every loop of the clip has people
// leaving and appearing again: events keep coming, whenever the broker goes away.
const EMPTY_IMAGES = 8;
const LOOP_MS = (IN_CLIP.length + EMPTY_IMAGES) * SECONDS_PER_IMAGE * 1000;

interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

const until = <T>(what: string, check: Parameters<typeof waitUntil<T>>[1], timeoutMs = LOADED) =>
  waitUntil<T>(what, check, timeoutMs);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client that records every message on facerec/# and homeassistant/#. */
async function observe(
  url: string,
  options: mqtt.IClientOptions = {},
): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...options });
  const got: Received[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  await client.subscribeAsync(['facerec/#', 'homeassistant/#'], { qos: 1 });
  return { client, got };
}

/** The retained messages a newcomer gets (the broker sends them at once on subscribing). */
async function retained(url: string): Promise<Map<string, string>> {
  const { client, got } = await observe(url, { reconnectPeriod: 0 });
  await sleep(1000);
  await client.endAsync();
  return new Map(got.filter((m) => m.retain).map((m) => [m.topic, m.payload.toString('utf8')]));
}

const json = (m: Received) => JSON.parse(m.payload.toString('utf8')) as unknown;
const events = (got: Received[]) =>
  got.filter((m) => m.topic === 'facerec/events').map((m) => EventPayload.parse(json(m)));

/** A webhook receiver on loopback answering `status`, recording each request. */
async function receiver(status: number) {
  const requests: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString('utf8');
    });
    req.on('end', () => {
      requests.push({ headers: req.headers, body });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/** /api/health's integrations, checked against the schema the OpenAPI document shows. */
/** Frigate's HTTP API as far as the ingest uses it: every event's snapshot is `jpeg`. */
async function snapshotServer(jpeg: Buffer) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(200, { 'Content-Type': 'image/jpeg' }).end(jpeg);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

async function health(server: TestServer): Promise<IntegrationsHealth> {
  const res = await fetch(`${server.url}/api/health`);
  return Health.parse(await res.json()).integrations;
}

describe('integrations: MQTT, Home Assistant discovery, webhooks', () => {
  let broker: Mosquitto;
  let clipDir: string;
  let clipPath: string;
  let server: TestServer;
  let observer: { client: MqttClient; got: Received[] };
  let sub: ChildProcess | undefined;
  let snapshots: { url: string; requests: string[]; close: () => Promise<void> };
  const hooks = {} as Record<'all' | 'penny' | 'failing', Awaited<ReturnType<typeof receiver>>>;

  beforeAll(async () => {
    // Persistence keeps the observer's session across the outage below: it misses nothing, whoever reconnects first.
    broker = await startMosquitto({ persistence: true });
    if (process.env.MQTT_SUB_LOG) {
      const out = createWriteStream(process.env.MQTT_SUB_LOG);
      sub = spawn('mosquitto_sub', [
        '-p',
        String(broker.port),
        '-h',
        '127.0.0.1',
        '-v',
        '-t',
        'facerec/#',
        '-t',
        'homeassistant/#',
      ]);
      sub.stdout?.pipe(out);
      sub.on('error', (err) => console.warn(`MQTT_SUB_LOG: ${err.message} (apt-get install mosquitto-clients)`));
    }
    observer = await observe(broker.url, { clientId: 'observer', clean: false });
    // A config of ours for someone removed while the server was down: cleared when it starts.
    await observer.client.publishAsync(
      GHOST,
      JSON.stringify({ unique_id: 'facerec_person_ghost', availability_topic: 'facerec/status' }),
      { qos: 1, retain: true },
    );
    // Another server's config (its own availability topic) on the same broker: left alone.
    await observer.client.publishAsync(
      OTHER,
      JSON.stringify({ unique_id: 'facerec_other', availability_topic: 'other/status' }),
      { qos: 1, retain: true },
    );
    hooks.all = await receiver(204);
    hooks.penny = await receiver(200);
    hooks.failing = await receiver(500);
    snapshots = await snapshotServer(await sharp(personImage('penny', 2)).jpeg().toBuffer());
    clipDir = await mkdtemp(join(tmpdir(), 'facerec-clip-'));
    const empty = await writeEmptyImage(join(clipDir, 'empty.png'));
    const images = [...IN_CLIP.map((p) => personImage(p, 1)), ...Array<string>(EMPTY_IMAGES).fill(empty)];
    clipPath = await makeTestClip(images, join(clipDir, 'people.mp4'), { secondsPerImage: SECONDS_PER_IMAGE });
    server = await startTestServer({
      facebank: ENROLLED.flatMap((person) => [1, 2].map((n) => ({ person, src: personImage(person, n) }))),
      config: {
        // Every frame analysed (no motion gating): the outage test compares detection counts of two loops, and a
        // gated camera analyses nothing in the clip's empty part, so a window's count would hang on its alignment.
        cameras: [{ name: 'Front door', url: clipPath, motion: false }],
        mqttUrl: broker.url,
        mqttCrops: true,
        webhooks: [
          { url: hooks.all.url, secret: SECRET },
          { url: hooks.penny.url, people: ['penny'], unknown: false, events: ['person_appeared'] },
          { url: hooks.failing.url },
        ],
        webhookRetries: RETRIES,
        frigateUrl: snapshots.url,
      },
    });
  });

  afterAll(async () => {
    await server?.close();
    await observer?.client.endAsync();
    await Promise.all(Object.values(hooks).map((h) => h.close()));
    await snapshots?.close();
    if (sub) await terminate(sub, 'SIGTERM');
    await broker?.stop();
    if (clipDir) await rm(clipDir, { recursive: true, force: true });
  });

  it('publishes events, who is in view, where each person was last seen, health and crops', async () => {
    const camera = server.runtime.cameras.list()[0]!.id;
    const seen = await until('penny, raj and Unknown appearing on facerec/events', () => {
      const names = new Set(
        events(observer.got)
          .filter((e) => e.type === 'person_appeared')
          .map((e) => e.name),
      );
      return ['penny', 'raj', 'Unknown'].every((n) => names.has(n)) && events(observer.got);
    });
    for (const e of seen) {
      expect(e).toMatchObject({ camera, cameraName: 'Front door', known: e.name !== 'Unknown' });
      expect(e.score).toBeGreaterThan(0);
    }
    const withCrop = seen.find((e) => e.cropUrl !== undefined)!;
    expect(withCrop.cropUrl).toBe(`${server.url}/api/events/${withCrop.id}/crop`);
    const crop = await fetch(withCrop.cropUrl!);
    expect(crop.headers.get('content-type')).toBe('image/jpeg');

    const state = await retained(broker.url);
    expect(state.get('facerec/status')).toBe('online');
    const views = observer.got
      .filter((m) => m.topic === `facerec/${camera}/people`)
      .map((m) => PeoplePayload.parse(json(m)));
    expect(views.some((v) => v.people.includes('penny') && v.known.includes('penny'))).toBe(true);
    expect(views.some((v) => v.people.includes('Unknown') && !v.known.includes('Unknown'))).toBe(true);
    const penny = PersonPayload.parse(JSON.parse(state.get('facerec/person/penny')!));
    expect(penny).toMatchObject({ name: 'penny', lastCamera: camera, lastCameraName: 'Front door' });
    expect(Date.parse(penny.lastSeen!)).toBeGreaterThan(Date.now() - LOADED * 2);
    // Enrolled, never seen: a state with no sighting, so Home Assistant shows "unknown" rather than nothing.
    expect(PersonPayload.parse(JSON.parse(state.get('facerec/person/amy')!))).toEqual({
      name: 'amy',
      inView: false,
      cameras: [],
    });
    expect(JSON.parse(state.get(`facerec/${camera}/health`)!)).toMatchObject({ id: camera, state: 'live' });
    const jpeg = observer.got.find((m) => m.topic === `facerec/${camera}/crop`)!.payload;
    expect([...jpeg.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect((await health(server)).mqtt).toMatchObject({ enabled: true, connected: true, dropped: 0 });
  });

  it('announces each camera and enrolled person to Home Assistant, with unique ids', async () => {
    const state = await retained(broker.url);
    expect(state.has(GHOST)).toBe(false);
    expect(state.has(OTHER)).toBe(true);
    const configs = [...state].filter(([topic]) => topic.startsWith('homeassistant/') && topic !== OTHER);
    const parsed = configs.map(([topic, payload]) => ({
      topic,
      config: JSON.parse(payload) as Record<string, unknown>,
    }));
    // Per camera: who is in view, known person present, camera state; per person: last camera, last seen, in view.
    expect(parsed).toHaveLength(3 + ENROLLED.length * 3);
    const ids = parsed.map((p) => p.config.unique_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { topic, config } of parsed) {
      expect(topic).toMatch(/^homeassistant\/(sensor|binary_sensor)\/facerec_[a-z0-9_-]+\/config$/u);
      expect(topic.split('/')[2]).toBe(config.unique_id);
      expect(config).toMatchObject({ availability_topic: 'facerec/status', name: expect.any(String) });
      expect(state.has(config.state_topic as string)).toBe(true); // every entity has its state already
    }
    const names = parsed.map((p) => (p.config.device as { name: string }).name);
    for (const n of ['Front door', ...ENROLLED]) expect(names).toContain(n);
  });

  it('announces a camera added over the API and clears its configs when it is removed', async () => {
    const from = observer.got.length;
    const added = await fetch(`${server.url}/api/cameras`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Garage', url: clipPath, enabled: false }),
    });
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as { id: string };
    const topics = await until('the new camera’s three configs', () => {
      const t = observer.got
        .slice(from)
        .filter(
          (m) => m.topic.startsWith(`homeassistant/`) && m.topic.includes(`_camera_${id}_`) && m.payload.length > 0,
        )
        .map((m) => m.topic);
      return t.length === 3 && t;
    });
    const removed = await fetch(`${server.url}/api/cameras/${id}`, { method: 'DELETE' });
    expect(removed.status).toBe(204);
    await until('its configs and state cleared', () => {
      const cleared = new Set(
        observer.got
          .slice(from)
          .filter((m) => m.payload.length === 0)
          .map((m) => m.topic),
      );
      return [...topics, `facerec/${id}/people`, `facerec/${id}/health`].every((t) => cleared.has(t));
    });
  });

  it("clears a removed person's configs and state", async () => {
    const before = await retained(broker.url);
    const amy = [...before].filter(([, payload]) => payload.includes('"name":"amy"')).map(([topic]) => topic);
    expect(amy.filter((t) => t.startsWith('homeassistant/'))).toHaveLength(3);
    const from = observer.got.length;
    const res = await fetch(`${server.url}/api/people/amy`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await until('empty retained payloads on amy’s topics', () => {
      const cleared = new Set(
        observer.got
          .slice(from)
          .filter((m) => m.payload.length === 0)
          .map((m) => m.topic),
      );
      return [...amy, 'facerec/person/amy'].every((t) => cleared.has(t));
    });
    const after = await retained(broker.url);
    expect([...after.keys()].filter((t) => amy.includes(t))).toEqual([]);
    expect(after.has('facerec/person/penny')).toBe(true);
  });

  it('POSTs signed events to webhooks, as filtered, and retries one that fails before counting it', async () => {
    await until('events at both hooks', () => hooks.all.requests.length >= 3 && hooks.penny.requests.length >= 1);
    for (const { headers, body } of hooks.all.requests) {
      expect(headers['content-type']).toBe('application/json');
      expect(headers['x-facerec-signature']).toBe(signature(SECRET, body));
      EventPayload.parse(JSON.parse(body));
    }
    const pennys = hooks.penny.requests.map((r) => EventPayload.parse(JSON.parse(r.body)));
    expect(pennys.every((e) => e.name === 'penny' && e.type === 'person_appeared')).toBe(true);
    expect(hooks.penny.requests[0]!.headers['x-facerec-signature']).toBeUndefined();

    // The failing hook: every event tried 1 + RETRIES times (1 s, 2 s apart), then counted as failed.
    const failing = await until('the failing hook counted as failed', async () => {
      const h = (await health(server)).webhooks.find((w) => w.url === hooks.failing.url);
      return h !== undefined && h.failures >= 1 && h;
    });
    expect(failing).toMatchObject({ lastStatus: 500, lastError: 'HTTP 500' });
    expect(failing.retries).toBeGreaterThanOrEqual(RETRIES);
    const bodies = hooks.failing.requests.map((r) => r.body);
    expect(bodies.filter((b) => b === bodies[0])).toHaveLength(1 + RETRIES);
    const good = (await health(server)).webhooks.find((w) => w.url === hooks.all.url)!;
    expect(good).toMatchObject({ failures: 0, lastStatus: 204 });
    expect(good.delivered).toBeGreaterThanOrEqual(3);
  });

  it("recognises Frigate's person snapshots and publishes the names", async () => {
    const from = observer.got.length;
    const event = (type: string, id: string, label: string) =>
      JSON.stringify({
        type,
        before: {},
        after: { id, camera: 'driveway', label, has_snapshot: true, top_score: 0.8 },
      });
    await observer.client.publishAsync('frigate/events', event('new', '1700000000.5-car', 'car'), { qos: 1 });
    await observer.client.publishAsync('frigate/events', event('new', FRIGATE_ID, 'person'), { qos: 1 });
    await observer.client.publishAsync('frigate/events', event('update', FRIGATE_ID, 'person'), { qos: 1 });
    const result = await until('the names of the Frigate snapshot', () =>
      observer.got.slice(from).find((m) => m.topic === 'facerec/frigate/events'),
    );
    expect(FrigateResult.parse(json(result))).toMatchObject({
      frigateEventId: FRIGATE_ID,
      camera: 'driveway',
      matches: ['penny'],
      faces: [{ name: 'penny', known: true }],
      snapshotUrl: `${snapshots.url}/api/events/${FRIGATE_ID}/snapshot.jpg`,
    });
    await until("penny last seen on Frigate's camera", () =>
      observer.got
        .slice(from)
        .some((m) => m.topic === 'facerec/person/penny' && PersonPayload.parse(json(m)).lastCamera === 'driveway'),
    );
    await sleep(500);
    // One fetch per Frigate event, however many updates it has; the car is not fetched at all.
    expect(snapshots.requests).toEqual([`/api/events/${FRIGATE_ID}/snapshot.jpg`]);
    expect((await health(server)).frigate).toEqual({ recognised: 1, failed: 0 });
  });

  it('keeps detecting at full rate while the broker is down 10 s, and delivers the events buffered meanwhile', async () => {
    const registry = server.runtime.cameras;
    const detections: number[] = [];
    const emitted: PersonEvent[] = [];
    const onDetections = (_d: Detections) => {
      detections.push(Date.now());
    };
    const count = (from: number) => detections.filter((t) => t >= from && t < from + OUTAGE_MS).length;
    const onEvent = (e: PersonEvent) => emitted.push(e);
    registry.on('detections', onDetections);
    registry.on('event', onEvent);
    try {
      // The outage is compared with the same 10 s of the clip's previous loop: the same faces, the same work.
      await sleep(LOOP_MS + 500);
      const firstDown = emitted.length;
      const down = Date.now();
      await broker.pause();
      await until(
        'the server to see the broker gone',
        async () => {
          const h = (await health(server)).mqtt;
          return h.enabled && !h.connected;
        },
        5000,
      );
      await sleep(OUTAGE_MS - (Date.now() - down));
      const before = count(down - LOOP_MS);
      const during = count(down);
      // Every event since the broker went: none may be lost (well within MQTT_BUFFER_SIZE).
      const lost = emitted.slice(firstDown).map((e) => e.id);
      const meanwhile = await health(server);
      await broker.resume();
      console.log(
        `detections: ${before} in 10 s of the clip's previous loop, ${during} in the same 10 s with the broker down; ` +
          `${lost.length} events while the broker was down (buffered: ${JSON.stringify(meanwhile.mqtt)})`,
      );
      // The pipeline never waits for the broker: a blocked pipeline would detect next to nothing. The bound is loose
      // because on this shared 2-core machine (load 15) two loops of the clip without any outage differed by a
      // quarter (59 and 77 detections); the figures are printed above.
      expect(during).toBeGreaterThanOrEqual(0.5 * before);
      expect(lost.length).toBeGreaterThan(0);
      const arrived = await until('the buffered events on facerec/events', () => {
        const ids = new Set(events(observer.got).map((e) => e.id));
        return lost.every((id) => ids.has(id)) && ids;
      });
      expect(arrived.size).toBeGreaterThan(0);
      const after = await until('the server connected again', async () => {
        const h = (await health(server)).mqtt;
        return h.enabled && h.connected && h;
      });
      expect(after).toMatchObject({ buffered: 0, dropped: 0 });
      expect(after.reconnects).toBeGreaterThan(0);
    } finally {
      registry.off('detections', onDetections);
      registry.off('event', onEvent);
    }
  });
});
