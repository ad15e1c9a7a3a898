// One camera pipeline end to end on real parts: a 640×360 25 fps clip played by a FileSource (ffmpeg), a
// FacePool of two workers, a Matcher built from real embeddings of facebank images 1–2, the tracker and the
// events store. The clip shows penny (image 3, swaying left and right) the whole time and leonard (image 3)
// for its first 3 s; it loops every 6 s, so leonard leaves and comes back while penny stays. The frames are
// small so that the timing checks hold on a loaded 2-core machine.
import { mkdtemp, rm } from 'node:fs/promises';
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
import { type Person, personImage, SCENES } from '../../test/support/testdata.ts';
import { EventsStore, MAX_EVENT_CROPS } from '../events.ts';
import { liveFfmpegPids, runFfmpeg } from '../sources/ffmpegProcesses.ts';
import { FileSource } from '../sources/fileSource.ts';
import { DECODER_TIMINGS } from '../sources/sourceDefaults.ts';
import type { CameraHealth, Detections, PersonEvent } from '../types.ts';
import { CameraPipeline } from './pipeline.ts';
import type { PreviewMessage } from './previews.ts';
import { SharedScheduler } from './sharedScheduler.ts';

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 25;
const LOOP_SECONDS = 6;
/** Leonard is on screen for the first this many seconds of each loop. */
const LEONARD_SECONDS = 3;
const FACE = 130;
const THRESHOLD = 0.4;
const ENROLLED: readonly Person[] = ['penny', 'leonard', 'sheldon', 'raj', 'howard', 'amy'];

/** The clip: a blurred scene, penny swaying on the left (period = loop, so the loop is seamless), leonard right. */
async function makeClip(dir: string): Promise<string> {
  const out = path.join(dir, 'two-people.mp4');
  const face = `scale=${FACE}:${FACE},format=rgb24`;
  await runFfmpeg([
    ...['-loop', '1', '-framerate', String(FPS), '-t', String(LOOP_SECONDS), '-i', SCENES[0]!],
    ...['-loop', '1', '-framerate', String(FPS), '-t', String(LOOP_SECONDS), '-i', personImage('penny', 3)],
    ...['-loop', '1', '-framerate', String(FPS), '-t', String(LOOP_SECONDS), '-i', personImage('leonard', 3)],
    '-filter_complex',
    [
      `[0:v]scale=${WIDTH}:${HEIGHT}:force_original_aspect_ratio=increase,crop=${WIDTH}:${HEIGHT},boxblur=10[bg]`,
      `[1:v]${face}[p]`,
      `[2:v]${face}[l]`,
      `[bg][p]overlay=x='80+40*sin(2*PI*t/${LOOP_SECONDS})':y=110[bp]`,
      `[bp][l]overlay=x=420:y=100:enable='lt(t,${LEONARD_SECONDS})',format=yuv420p,fps=${FPS}[out]`,
    ].join(';'),
    ...['-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS), '-bf', '0', '-an', out],
  ]);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The product's settings for cameras and events. */
const DEFAULTS = ConfigSchema.parse({});
const CAMERA = cameraDefaults(DEFAULTS);

describe('CameraPipeline on a live file camera', () => {
  const { pool } = usePool();
  let dir: string;
  let clip: string;
  let matcher: FaceNamer;
  const db = new Database(':memory:');
  const events = new EventsStore(db, { maxCrops: MAX_EVENT_CROPS, retentionDays: DEFAULTS.eventsRetentionDays });

  // Everything the pipeline emitted, and when.
  const detections: { at: number; d: Detections }[] = [];
  const previews: { at: number; p: PreviewMessage }[] = [];
  const emitted: PersonEvent[] = [];
  let startedAt = 0;
  let stoppedAt = 0;
  let healthLive: CameraHealth | undefined;
  let healthStopped: CameraHealth | undefined;
  let pidsDuring: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-pipeline-'));
    const [file, templates] = await Promise.all([
      makeClip(dir),
      Promise.all(
        ENROLLED.flatMap((person) =>
          [1, 2].map(async (n) => ({ person, embedding: await queryEmbedding(pool(), personImage(person, n)) })),
        ),
      ),
    ]);
    clip = file;
    const bank = new TemplateMatcher(templates);
    matcher = { match: (embedding) => bank.match(embedding, THRESHOLD) };

    const scheduler = new SharedScheduler(2);
    const pipeline = new CameraPipeline({
      cameraId: 'cam1',
      name: 'Test clip',
      source: new FileSource({ ...DECODER_TIMINGS, fps: 0, path: clip }),
      scheduler,
      pool: pool(),
      matcher,
      events,
      maxDetectFps: 10,
      minFaceSize: CAMERA.minFaceSize,
      previewFps: 10,
      previewWidth: 320,
      // A short cooldown, so leonard's visit ends within the run.
      tracker: { cooldownMs: 1000 },
    });
    pipeline.on('detections', (d) => detections.push({ at: Date.now(), d }));
    pipeline.on('preview', (p) => previews.push({ at: Date.now(), p }));
    pipeline.on('event', (e) => emitted.push(e));
    startedAt = Date.now();
    pipeline.start();
    // Past leonard's exit, his cooldown, and the loop (he comes back at 6 s).
    await sleep(8500);
    healthLive = pipeline.health();
    pidsDuring = liveFfmpegPids();
    stoppedAt = Date.now();
    await pipeline.stop();
    healthStopped = pipeline.health();
    scheduler.stop();
    console.log(
      `${WIDTH}×${HEIGHT} @ ${FPS} fps, 1 camera, pool of 2: input ${healthLive.inputFps} fps, processed ${healthLive.processedFps} fps, ` +
        `lag p50 ${healthLive.lagMs.p50} ms p95 ${healthLive.lagMs.p95} ms; ${detections.length} detections, ${previews.length} previews in 8.5 s`,
    );
  });

  afterAll(async () => {
    events.close();
    db.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const namesAt = (d: Detections) => d.faces.map((f) => f.name);
  const isPenny = (x1: number, x2: number, width: number) => (x1 + x2) / 2 < width / 2;

  it('emits detections with the enrolled names within 5 s', () => {
    const first = (name: string) => detections.find(({ d }) => namesAt(d).includes(name));
    expect(first('penny'), 'penny named').toBeDefined();
    expect(first('leonard'), 'leonard named').toBeDefined();
    expect(first('penny')!.at - startedAt).toBeLessThan(5000);
    expect(first('leonard')!.at - startedAt).toBeLessThan(5000);
    // Every detection is in frame pixels, and no face is ever named as someone else.
    for (const { d } of detections) {
      expect([d.width, d.height]).toEqual([WIDTH, HEIGHT]);
      for (const f of d.faces) {
        expect(['penny', 'leonard', 'Unknown']).toContain(f.name);
        if (f.name !== 'Unknown') expect(f.name).toBe(isPenny(f.box.x1, f.box.x2, d.width) ? 'penny' : 'leonard');
      }
    }
    // Frames go through in order.
    const seqs = detections.map(({ d }) => d.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('keeps one trackId per person while they are on screen', () => {
    const pennyIds = new Set<number>();
    const pennyPath: string[] = [];
    for (const { d } of detections) {
      for (const f of d.faces) {
        if (!isPenny(f.box.x1, f.box.x2, d.width)) continue;
        pennyIds.add(f.trackId);
        pennyPath.push(`${d.frameTime - startedAt}ms #${f.trackId} ${f.name ?? '-'} x${Math.round(f.box.x1)}`);
      }
    }
    // Penny is on screen the whole run, through the loop: one track.
    expect([...pennyIds], `penny's tracks: ${pennyPath.join(', ')}`).toHaveLength(1);
    // Leonard: one track per visit (he is off screen from 3 s to 6 s of each loop), so at most two.
    const leonardIds: number[] = [];
    for (const { d } of detections) {
      for (const f of d.faces) {
        if (!isPenny(f.box.x1, f.box.x2, d.width) && leonardIds.at(-1) !== f.trackId) leonardIds.push(f.trackId);
      }
    }
    expect(leonardIds.length).toBeGreaterThanOrEqual(1);
    expect(leonardIds.length).toBeLessThanOrEqual(2);
    expect(new Set(leonardIds).size).toBe(leonardIds.length);
  });

  it('sends previews at about the configured rate, each with the detections of its own frame', async () => {
    // By capture time, over the steady part of the run: from 1.5 s in until 2.5 s before the stop (previews
    // wait for their frame's detections, so the last ones were still pending when the pipeline stopped).
    const from = startedAt + 1500;
    const to = stoppedAt - 2500;
    const steady = previews.filter(({ p }) => p.detections.frameTime >= from && p.detections.frameTime < to);
    const rate = (steady.length * 1000) / (to - from);
    expect(rate).toBeGreaterThan(7);
    expect(rate).toBeLessThan(12);
    const bySeq = new Map(detections.map(({ d }) => [d.seq, d]));
    let own = 0;
    let predicted = 0;
    let lastSeq = -1;
    for (const { p } of previews) {
      expect(p.cameraId).toBe('cam1');
      expect(p.detections.seq).toBe(p.seq);
      expect(p.seq).toBeGreaterThan(lastSeq);
      lastSeq = p.seq;
      expect([p.detections.width, p.detections.height]).toEqual([320, 180]);
      const processed = bySeq.get(p.seq);
      if (processed) {
        own++;
        expect(p.detections.frameTime).toBe(processed.frameTime);
        // The same faces, scaled by half.
        expect(p.detections.faces.map((f) => f.trackId)).toEqual(processed.faces.map((f) => f.trackId));
        p.detections.faces.forEach((f, i) => {
          const box = processed.faces[i]!.box;
          for (const k of ['x1', 'y1', 'x2', 'y2'] as const) expect(f.box[k]).toBeCloseTo(box[k] / 2, 3);
        });
      } else {
        predicted++;
        for (const f of p.detections.faces) expect(f.predicted).toBe(true);
      }
    }
    expect(own).toBeGreaterThan(0);
    expect(own + predicted).toBe(previews.length);
    // The JPEG is the size its detections say.
    const sample = previews[Math.floor(previews.length / 2)]!.p;
    const meta = await sharp(sample.jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 180]);
    // A preview that has penny carries her box where she is in the picture (left half).
    const withPenny = previews.filter(({ p }) => p.detections.faces.some((f) => f.name === 'penny'));
    expect(withPenny.length).toBeGreaterThan(10);
    for (const { p } of withPenny) {
      const f = p.detections.faces.find((x) => x.name === 'penny')!;
      expect((f.box.x1 + f.box.x2) / 2).toBeLessThan(160);
    }
  });

  it('stores appeared and left events with crops, and emits them with their ids', async () => {
    const brief = emitted.map((e) => `${e.type === 'person_appeared' ? '+' : '-'}${e.name}`);
    expect(brief).toContain('+penny');
    expect(brief).toContain('+leonard');
    // Leonard left during the run (cooldown 1 s); penny's visit ended with stop().
    expect(brief.indexOf('-leonard')).toBeGreaterThan(brief.indexOf('+leonard'));
    expect(brief).toContain('-penny');
    // Every appeared event has its left event after stop: visits pair up.
    const count = (s: string) => brief.filter((b) => b === s).length;
    expect(count('+penny')).toBe(count('-penny'));
    expect(count('+leonard')).toBe(count('-leonard'));

    const listed = events.list({ cameraId: 'cam1', limit: 100 });
    expect(listed.map((e) => e.id)).toEqual(emitted.map((e) => e.id).reverse());
    expect(events.list({ cameraId: 'cam1', name: 'leonard', limit: 100 }).length).toBe(
      count('+leonard') + count('-leonard'),
    );
    for (const e of emitted) {
      if (e.name === 'Unknown') continue;
      expect(e.crop, `${e.type} ${e.name} has a crop`).toBeDefined();
      const stored = events.crop(e.id);
      expect(stored).toBeDefined();
      expect(Buffer.from(stored!).equals(Buffer.from(e.crop!))).toBe(true);
      const meta = await sharp(stored!).metadata();
      expect(meta.format).toBe('jpeg');
      // The face (130 px) with its margin.
      expect(meta.width).toBeGreaterThan(100);
      expect(meta.width).toBeLessThanOrEqual(320);
    }
  });

  it('reports health while live, and stops its decoder', () => {
    expect(healthLive!.state).toBe('live');
    expect(healthLive!.inputFps).toBeGreaterThan(15);
    expect(healthLive!.processedFps).toBeGreaterThan(1);
    expect(healthLive!.lagMs.p50).toBeGreaterThan(0);
    expect(healthLive!.lagMs.p95).toBeGreaterThanOrEqual(healthLive!.lagMs.p50);
    expect(healthLive!.lastFrameAt).toBeGreaterThan(startedAt);
    expect(healthLive!.reconnects).toBe(0);
    expect(pidsDuring.length).toBeGreaterThan(0);
    for (const pid of pidsDuring) expect(liveFfmpegPids()).not.toContain(pid);
    expect(healthStopped!.state).toBe('stopped');
  });
});

describe('CameraPipeline when one face replaces another in place', () => {
  // makePeopleClip cuts from one person's photo to the next in the same spot, with no frame in between:
  // the tracker's IoU alone would keep one track (and its name and crop) across all of them.
  const { pool } = usePool();
  const people: Person[] = ['penny', 'raj', 'amy', 'howard'];
  const detections: Detections[] = [];
  const emitted: PersonEvent[] = [];
  let clip: TempClip | undefined;
  const db = new Database(':memory:');
  const events = new EventsStore(db, { maxCrops: MAX_EVENT_CROPS, retentionDays: DEFAULTS.eventsRetentionDays });

  beforeAll(async () => {
    const [made, templates] = await Promise.all([
      makePeopleClip(people),
      Promise.all(
        people.flatMap((person) =>
          [2, 3].map(async (n) => ({ person, embedding: await queryEmbedding(pool(), personImage(person, n)) })),
        ),
      ),
    ]);
    clip = made;
    const bank = new TemplateMatcher(templates);
    const scheduler = new SharedScheduler(2);
    const pipeline = new CameraPipeline({
      cameraId: 'cuts',
      name: 'Cuts',
      source: new FileSource({ ...DECODER_TIMINGS, fps: 0, path: clip.path }),
      scheduler,
      pool: pool(),
      matcher: { match: (embedding) => bank.match(embedding, THRESHOLD) },
      events,
      maxDetectFps: 10,
      minFaceSize: CAMERA.minFaceSize,
      previewFps: 0,
      previewWidth: CAMERA.previewWidth,
      tracker: { cooldownMs: 1000 },
    });
    pipeline.on('detections', (d) => detections.push(d));
    pipeline.on('event', (e) => emitted.push(e));
    pipeline.start();
    // One pass of the 6 s clip and a bit.
    await sleep(7000);
    await pipeline.stop();
    scheduler.stop();
  });

  afterAll(async () => {
    events.close();
    db.close();
    await clip?.remove();
  });

  it('gives each person their own track, name and crop', () => {
    const namesByTrack = new Map<number, Set<string>>();
    for (const d of detections) {
      for (const f of d.faces) {
        if (f.name === 'Unknown') continue;
        const names = namesByTrack.get(f.trackId) ?? new Set<string>();
        names.add(f.name);
        namesByTrack.set(f.trackId, names);
      }
    }
    // No track ever carries two people's names.
    for (const [trackId, names] of namesByTrack) expect([...names], `track ${trackId}`).toHaveLength(1);
    // At least three of the four people were named (the clip may start mid-way through the first), each on
    // a track of their own, and announced in the clip's order.
    const appeared = emitted.filter((e) => e.type === 'person_appeared' && e.name !== 'Unknown');
    const order = appeared.map((e) => e.name);
    expect(new Set(order).size).toBeGreaterThanOrEqual(3);
    expect(new Set(appeared.map((e) => e.trackId)).size).toBe(appeared.length);
    const firstIndex = people.indexOf(order[0] as Person);
    expect(order.slice(0, 4)).toEqual(people.slice(firstIndex).concat(people).slice(0, Math.min(4, order.length)));
  });
});
