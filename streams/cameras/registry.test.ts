// The camera registry on real parts: a FacePool of two workers, file cameras played by ffmpeg, unreachable
// RTSP cameras, a SQLite file re-opened between registries; a camera decoded smaller (detectWidth) beside one at
// the source's size.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher as TemplateMatcher } from '../../facebank/matcher.ts';
import type { FaceNamer } from '../../facebank/recognize.ts';
import { queryEmbedding, usePool } from '../../facebank/testing.ts';
import { ConfigSchema, cameraDefaults } from '../../server/config.ts';
import { makePeopleClip, type TempClip } from '../../test/support/clips.ts';
import { isAlive } from '../../test/support/processes.ts';
import { personImage } from '../../test/support/testdata.ts';
import type { PreviewMessage } from '../pipeline/previews.ts';
import { liveFfmpegPids } from '../sources/ffmpegProcesses.ts';
import type { CameraHealth, CameraState, Detections, Frame, PersonEvent } from '../types.ts';
import { CameraError } from './cameraTypes.ts';
import { CameraRegistry, type RegistryOptions } from './registry.ts';

function until<T>(what: string, check: () => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = setInterval(() => {
      let value: T | undefined;
      try {
        value = check();
      } catch (err) {
        clearInterval(poll);
        reject(err);
        return;
      }
      if (value !== undefined) {
        clearInterval(poll);
        resolve(value);
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }
    }, 25);
  });
}

async function expectCameraError(promise: Promise<unknown> | (() => unknown), code: CameraError['code']) {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${code}`).toBeInstanceOf(CameraError);
  expect((error as CameraError).code).toBe(code);
  return error as CameraError;
}

/** A webcam-like source: the same decoded photo as a frame every 100 ms. */
class PhotoSource extends EventEmitter {
  readonly kind = 'webrtc' as const;
  stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(private readonly image: { data: Uint8Array; width: number; height: number }) {
    super();
  }

  start(): void {
    this.emit('state', 'live' satisfies CameraState);
    this.timer = setInterval(() => {
      const frame: Frame = {
        image: { ...this.image, data: new Uint8Array(this.image.data) },
        capturedAt: Date.now(),
        seq: this.seq++,
      };
      this.emit('frame', frame);
    }, 100);
  }

  stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.emit('state', 'stopped' satisfies CameraState);
    return Promise.resolve();
  }
}

describe('CameraRegistry', () => {
  const { pool } = usePool();
  let dir: string;
  let clip: TempClip;
  let matcher: FaceNamer;
  let db: Database.Database;
  const registries: CameraRegistry[] = [];

  const open = async (o: Partial<RegistryOptions> = {}) => {
    const registry = await CameraRegistry.open({
      db,
      pool: pool(),
      matcher,
      poolSize: 2,
      defaults: { ...cameraDefaults(ConfigSchema.parse({})), previewFps: 5 },
      eventsRetentionDays: 30,
      configCameras: [],
      ...o,
    });
    registries.push(registry);
    return registry;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-cameras-'));
    db = new Database(path.join(dir, 'facerec.db'));
    const [made, embedding] = await Promise.all([
      makePeopleClip(['penny', 'raj'], { secondsPerImage: 2 }),
      queryEmbedding(pool(), personImage('penny', 2)),
    ]);
    clip = made;
    const bank = new TemplateMatcher([{ person: 'penny', embedding }]);
    matcher = { match: (e) => bank.match(e, 0.4) };
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.close()));
    db?.close();
    await clip?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('validates cameras and says why', async () => {
    const registry = await open();
    const bad = async (input: Parameters<CameraRegistry['add']>[0], words: RegExp) => {
      const err = await expectCameraError(registry.add(input), 'invalid_camera');
      expect(err.message).toMatch(words);
    };
    await bad({ name: 'x', url: 'http://example.com/video' }, /unsupported URL scheme.*rtsp:\/\//);
    await bad({ name: 'x', url: path.join(dir, 'missing.mp4') }, /no such file/);
    await bad({ name: 'x', url: dir }, /not a file/);
    await bad({ name: 'x', url: 'rtsp://' }, /URL/);
    await bad({ name: '  ', url: clip.path }, /name/);
    await bad({ name: 'x', url: clip.path, maxDetectFps: 0 }, /maxDetectFps/);
    await bad({ name: 'x', url: clip.path, inputFps: 500 }, /inputFps/);
    await expectCameraError(() => registry.get('nope'), 'camera_not_found');
    await expectCameraError(registry.update('nope', { name: 'y' }), 'camera_not_found');
    await expectCameraError(registry.remove('nope'), 'camera_not_found');
    expect(registry.list()).toEqual([]);
    await registry.close();
  });

  it('persists add, update and remove across a re-open on the same database', async () => {
    const first = await open();
    let changes = 0;
    first.on('cameras', () => changes++);
    const lobby = await first.add({ name: 'Lobby', url: clip.path, maxDetectFps: 5 });
    const gate = await first.add({ name: 'Gate', url: 'rtsp://admin:s3cret@127.0.0.1:1/stream', enabled: false });
    const spare = await first.add({ name: 'Spare', url: 'rtsp://127.0.0.1:1/spare', enabled: false });
    expect(lobby.id).toMatch(/^[a-z0-9]{8}$/);
    expect(lobby).toMatchObject({ name: 'Lobby', kind: 'file', enabled: true, maxDetectFps: 5, persistent: true });
    expect(lobby.inputFps).toBe(0);
    // Credentials never leave the registry.
    expect(gate.url).toBe('rtsp://***@127.0.0.1:1/stream');
    expect(JSON.stringify(first.list())).not.toContain('s3cret');
    expect(gate.health.state).toBe('stopped');
    await until('the lobby camera live', () => first.get(lobby.id).health.state === 'live' || undefined, 15_000);

    const renamed = await first.update(lobby.id, { name: 'Lobby 2', maxDetectFps: 3 });
    expect(renamed).toMatchObject({ name: 'Lobby 2', maxDetectFps: 3, enabled: true });
    // Sending back the redacted URL keeps the real one.
    await first.update(gate.id, { url: gate.url, name: 'Gate 2' });
    await first.remove(spare.id);
    expect(() => first.get(spare.id)).toThrow(CameraError);
    expect(changes).toBe(6);
    await first.close();

    const second = await open();
    const views = second.list();
    expect(views.map((v) => [v.id, v.name, v.enabled, v.maxDetectFps])).toEqual([
      [lobby.id, 'Lobby 2', true, 3],
      [gate.id, 'Gate 2', false, 10],
    ]);
    // The stored URL is still the real one: the restored camera tries it (and fails: nothing listens on port 1).
    const gateOn = await second.update(gate.id, { enabled: true });
    expect(gateOn.url).toBe('rtsp://***@127.0.0.1:1/stream');
    const row = db.prepare('SELECT url FROM cameras_settings WHERE id = ?').get(gate.id) as { url: string };
    expect(row.url).toBe('rtsp://admin:s3cret@127.0.0.1:1/stream');
    await until(
      'the restored lobby camera live',
      () => second.get(lobby.id).health.state === 'live' || undefined,
      15_000,
    );
    // enabled: false stops the pipeline and its decoder.
    const off = await second.update(lobby.id, { enabled: false });
    expect(off.health.state).toBe('stopped');
    await second.remove(lobby.id);
    await second.remove(gate.id);
    await second.close();
    expect((await open()).list()).toEqual([]);
  });

  it('runs a good file camera next to an unreachable one, which reports reconnecting with the reason', async () => {
    const registry = await open({
      configCameras: [{ name: 'Not a camera', url: 'http://example.com/stream' }],
    });
    const detections = new Map<string, Detections[]>();
    const states: CameraHealth[] = [];
    registry.on('detections', (d) => {
      const list = detections.get(d.cameraId) ?? [];
      list.push(d);
      detections.set(d.cameraId, list);
    });
    registry.on('state', (h) => states.push(h));
    const previews: string[] = [];
    registry.on('preview', (p) => previews.push(p.cameraId));
    const events: PersonEvent[] = [];
    registry.on('event', (e) => events.push(e));
    const junkFile = path.join(dir, 'junk.mp4');
    await writeFile(junkFile, 'this is not a video\n'.repeat(100));

    const good = await registry.add({ name: 'Good', url: clip.path, maxDetectFps: 5 });
    const bad = await registry.add({ name: 'Bad', url: 'rtsp://user:pw123@127.0.0.1:1/live' });
    const junk = await registry.add({ name: 'Junk', url: junkFile });
    const broken = registry.list().find((v) => v.origin === 'config')!;

    const badHealth = await until(
      'the bad camera reconnecting',
      () => registry.health().find((h) => h.id === bad.id && h.state === 'reconnecting' && h.lastError),
      15_000,
    );
    expect(badHealth.lastError).toMatch(/connection refused/);
    expect(badHealth.lastError).not.toContain('pw123');
    expect(states.some((h) => h.id === bad.id && h.state === 'reconnecting')).toBe(true);
    const brokenHealth = await until(
      'the config camera reporting its URL',
      () => registry.get(broken.id).health.lastError,
      5000,
    );
    expect(brokenHealth).toMatch(/not an rtsp:\/\/ URL/);
    const junkHealth = await until(
      'the junk file reporting why',
      () => registry.health().find((h) => h.id === junk.id && h.state === 'reconnecting' && h.lastError),
      15_000,
    );
    expect(junkHealth.lastError).toMatch(/not a playable video/);

    // Meanwhile the good camera keeps going, and names penny.
    const before = detections.get(good.id)?.length ?? 0;
    await until(
      'penny on the good camera',
      () => detections.get(good.id)?.find((d) => d.faces.some((f) => f.name === 'penny')),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    expect((detections.get(good.id)?.length ?? 0) - before).toBeGreaterThan(3);
    const goodHealth = registry.get(good.id).health;
    expect(goodHealth.state).toBe('live');
    expect(goodHealth.processedFps).toBeGreaterThan(0.5);
    expect(goodHealth.lastError).toBeUndefined();
    expect(detections.has(bad.id)).toBe(false);
    expect(previews).toContain(good.id);
    expect(registry.get(bad.id).health.reconnects).toBeGreaterThanOrEqual(1);
    // Person events come through the registry and are in its store.
    await until('penny appeared', () => events.find((e) => e.name === 'penny' && e.cameraId === good.id), 5000);
    const stored = registry.events.list({ cameraId: good.id, name: 'penny', limit: 10 });
    expect(stored.map((e) => e.id)).toContain(events.find((e) => e.name === 'penny')!.id);

    await registry.remove(good.id);
    await registry.remove(bad.id);
    await registry.remove(junk.id);
    await registry.close();
  });

  it('decodes a camera with detectWidth at that width, ffmpeg scaling: its boxes are in those pixels, previews keep their width', async () => {
    const started = Date.now();
    const previewWidth = 240;
    const registry = await open({
      defaults: { ...cameraDefaults(ConfigSchema.parse({})), previewFps: 5, previewWidth },
    });
    const found = new Map<string, Detections>();
    registry.on('detections', (d) => {
      if (!found.has(d.cameraId) && d.faces.some((f) => !f.predicted)) found.set(d.cameraId, d);
    });
    const previews = new Map<string, PreviewMessage>();
    registry.on('preview', (p) => previews.set(p.cameraId, p));
    // The same clip at its own size (640×480) and at half of it: the first seconds show penny, standing still.
    const narrow = await registry.add({ name: 'Narrow', url: clip.path, maxDetectFps: 5, detectWidth: 320 });
    const full = await registry.add({ name: 'Full', url: clip.path, maxDetectFps: 5 });

    // ffmpeg does the scaling: the narrow camera's decoder is told the width, the other is not.
    const commandLines = () =>
      liveFfmpegPids().map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    const scaled = await until(
      'both decoders',
      () => (commandLines().length >= 2 ? commandLines() : undefined),
      10_000,
    );
    expect(scaled.filter((line) => line.includes('scale=320:-2'))).toHaveLength(1);
    expect(scaled.filter((line) => line.includes('scale='))).toHaveLength(1);

    const [small, large] = await until(
      'a face on both cameras',
      () => (found.has(narrow.id) && found.has(full.id) ? [found.get(narrow.id)!, found.get(full.id)!] : undefined),
      15_000,
    );
    // Detection ran on the 320×240 frame, and its boxes are in that frame's pixels: half the full-size ones.
    expect([small.width, small.height]).toEqual([320, 240]);
    expect([large.width, large.height]).toEqual([640, 480]);
    const a = small.faces.find((f) => !f.predicted)!.box;
    const b = large.faces.find((f) => !f.predicted)!.box;
    const side = (b.x2 - b.x1) / 2;
    for (const k of ['x1', 'y1', 'x2', 'y2'] as const) expect(Math.abs(a[k] - b[k] / 2), k).toBeLessThan(0.15 * side);

    // Previews are PREVIEW_WIDTH wide whatever the decode width (they are never enlarged past it).
    await until('previews of both', () => (previews.has(narrow.id) && previews.has(full.id)) || undefined, 5000);
    for (const id of [narrow.id, full.id]) {
      const preview = previews.get(id)!;
      const meta = await sharp(preview.jpeg).metadata();
      expect([meta.width, meta.height], id).toEqual([previewWidth, (previewWidth * 3) / 4]);
      expect(preview.detections.width).toBe(previewWidth);
    }
    await registry.remove(narrow.id);
    await registry.remove(full.id);
    await registry.close();
    console.log(`detectWidth: ${Date.now() - started} ms`);
  });

  it('keeps config cameras read-only and out of the database', async () => {
    const registry = await open({
      configCameras: [
        { name: 'Front door', url: clip.path, maxDetectFps: 2 },
        { name: 'Front door', url: 'rtsp://127.0.0.1:1/x', enabled: false },
      ],
    });
    const [a, b] = registry.list();
    expect(a).toMatchObject({ id: 'cfg-front-door', origin: 'config', persistent: false, readOnly: true });
    expect(b).toMatchObject({ id: 'cfg-front-door-2', enabled: false });
    const err = await expectCameraError(registry.update(a!.id, { name: 'x' }), 'camera_read_only');
    expect(err.message).toMatch(/config file/);
    await expectCameraError(registry.remove(a!.id), 'camera_read_only');
    await until('the config camera live', () => registry.get(a!.id).health.state === 'live' || undefined, 15_000);
    expect(db.prepare('SELECT COUNT(*) AS n FROM cameras_settings').get()).toEqual({ n: 0 });
    await registry.close();
    expect((await open()).list()).toEqual([]);
  });

  it('runs ephemeral cameras, not persisted, until removed', async () => {
    const registry = await open();
    const { data, info } = await sharp(personImage('penny', 3))
      .resize(200, 200)
      .extend({ top: 140, bottom: 140, left: 220, right: 220, background: '#808080' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const source = new PhotoSource({ data: new Uint8Array(data), width: info.width, height: info.height });
    const seen: Detections[] = [];
    registry.on('detections', (d) => seen.push(d));
    const view = registry.addEphemeral('Browser webcam', 'webrtc', source);
    expect(view).toMatchObject({ kind: 'webrtc', origin: 'session', persistent: false, readOnly: true });
    await until(
      'penny on the webcam',
      () => seen.find((d) => d.cameraId === view.id && d.faces[0]?.name === 'penny'),
      15_000,
    );
    await expectCameraError(registry.update(view.id, { name: 'x' }), 'camera_read_only');
    expect(db.prepare('SELECT COUNT(*) AS n FROM cameras_settings').get()).toEqual({ n: 0 });
    await registry.removeEphemeral(view.id);
    expect(source.stopped).toBe(true);
    expect(registry.list()).toEqual([]);
    await registry.close();
  });

  it('leaves no ffmpeg behind on close', async () => {
    const registry = await open({ configCameras: [{ name: 'Config clip', url: clip.path }] });
    await registry.add({ name: 'One', url: clip.path });
    await registry.add({ name: 'Two', url: clip.path, inputFps: 5 });
    await until('three cameras live', () => registry.health().every((h) => h.state === 'live') || undefined, 20_000);
    const pids = liveFfmpegPids();
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await registry.close();
    expect(liveFfmpegPids()).toEqual([]);
    for (const pid of pids) expect(isAlive(pid), `ffmpeg ${pid} still running`).toBe(false);
    expect(registry.health().every((h) => h.state === 'stopped')).toBe(true);
    // Closed means closed.
    await expect(registry.add({ name: 'Three', url: clip.path })).rejects.toThrow(/closed/);
    for (const v of registry.list())
      if (v.persistent) db.prepare('DELETE FROM cameras_settings WHERE id = ?').run(v.id);
  });
});
