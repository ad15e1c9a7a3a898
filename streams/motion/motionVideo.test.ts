// Motion gating on real video: three file cameras (ffmpeg-made 640×360 clips of a blurred BBT scene with sensor
// noise and a slow lighting drift) run by a real registry, pool and matcher. One stays empty; in one, raj walks
// in after 2 s; in one, a face moves behind a mask (a TV screen) from 1 s on. Only the first frame of each camera
// is analysed whole (there is no background yet); after that only motion outside masks, or a tracked face, is.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Matcher as TemplateMatcher } from '../../facebank/matcher.ts';
import type { FaceNamer } from '../../facebank/recognize.ts';
import { queryEmbedding, usePool } from '../../facebank/testing.ts';
import { ConfigSchema, cameraDefaults } from '../../server/config.ts';
import { type Person, personImage, SCENES } from '../../test/support/testdata.ts';
import { CameraError } from '../cameras/cameraTypes.ts';
import { CameraRegistry } from '../cameras/registry.ts';
import { runFfmpeg } from '../sources/ffmpegProcesses.ts';
import type { CameraHealth, Detections } from '../types.ts';
import type { Shape } from './shapes.ts';

const W = 640;
const H = 360;
const FPS = 10;
const SECONDS = 12;
const FACE = 130;
/** Raj appears at this time of the clip, whole, and walks slowly left. */
const RAJ_AT = 2;
/** The TV in the top-left corner: a face moves inside it from 1 s on. */
const TV = { x: 10, y: 10, w: 230, h: 170 };
const TV_MASK: Shape = { rect: [0, 0, (TV.x + TV.w + 10) / W, (TV.y + TV.h + 10) / H] };
const ENROLLED: readonly Person[] = ['raj', 'penny', 'leonard', 'howard'];

type Overlay = 'none' | 'raj' | 'tv';

/** The scene, noise and drift for every clip (the drift's period is the clip's, so the loop is seamless). */
async function makeClip(dir: string, overlay: Overlay): Promise<string> {
  const out = path.join(dir, `${overlay}.mp4`);
  const input = (file: string) => ['-loop', '1', '-framerate', String(FPS), '-t', String(SECONDS), '-i', file];
  const room =
    `[0:v]scale=${W}:${H}:force_original_aspect_ratio=increase,crop=${W}:${H},boxblur=10,` +
    `eq=brightness='0.05*sin(2*PI*t/${SECONDS})':eval=frame`;
  const finish = `noise=alls=8:allf=t,format=yuv420p,fps=${FPS}[out]`;
  const graph =
    overlay === 'none'
      ? `${room},${finish}`
      : overlay === 'raj'
        ? `${room}[bg];[1:v]scale=${FACE}:${FACE}[p];` +
          `[bg][p]overlay=x='420-30*(t-${RAJ_AT})':y=110:enable='gte(t,${RAJ_AT})',${finish}`
        : `${room}[bg];[1:v]scale=${TV.h - 40}:${TV.h - 40}[p];` +
          `[bg]drawbox=x=${TV.x}:y=${TV.y}:w=${TV.w}:h=${TV.h}:color=black:t=fill[tv];` +
          `[tv][p]overlay=x='${TV.x + 5}+(${TV.w - TV.h + 30})*abs(sin(t))':y=${TV.y + 20}:enable='gte(t,1)',${finish}`;
  await runFfmpeg([
    ...input(SCENES[0]!),
    ...(overlay === 'none' ? [] : input(personImage(overlay === 'raj' ? 'raj' : 'penny', 3))),
    ...['-filter_complex', graph, '-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS)],
    ...['-bf', '0', '-an', out],
  ]);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('motion gating on real video', () => {
  const { pool } = usePool();
  let dir: string;
  let db: Database.Database;
  let matcher: FaceNamer;
  let registry: CameraRegistry;
  const seen = new Map<string, Detections[]>();
  const health = new Map<string, CameraHealth>();
  const ids: Record<Overlay, string> = { none: '', raj: '', tv: '' };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-motion-'));
    db = new Database(path.join(dir, 'facerec.db'));
    const overlays: Overlay[] = ['none', 'raj', 'tv'];
    const [clips, templates] = await Promise.all([
      Promise.all(overlays.map((o) => makeClip(dir, o))),
      Promise.all(
        ENROLLED.flatMap((person) =>
          [1, 2].map(async (n) => ({ person, embedding: await queryEmbedding(pool(), personImage(person, n)) })),
        ),
      ),
    ]);
    const bank = new TemplateMatcher(templates);
    matcher = { match: (e) => bank.match(e, 0.4) };
    registry = await CameraRegistry.open({
      db,
      pool: pool(),
      matcher,
      poolSize: 2,
      defaults: { ...cameraDefaults(ConfigSchema.parse({})), previewFps: 0 },
      eventsRetentionDays: 30,
      configCameras: [],
    });
    registry.on('detections', (d) => seen.set(d.cameraId, [...(seen.get(d.cameraId) ?? []), d]));
    for (const [i, overlay] of overlays.entries()) {
      const masks = overlay === 'tv' ? [TV_MASK] : [];
      ids[overlay] = (await registry.add({ name: overlay, url: clips[i]!, masks })).id;
    }
    // Until every camera has decoded 10 s of its clip (past raj's entrance and well into the TV's motion, before
    // the clips loop), however slowly a loaded machine decodes.
    const frames = (h: CameraHealth) =>
      h.motion ? h.motion.skippedFrames + h.motion.croppedFrames + h.motion.wholeFrames : 0;
    const deadline = Date.now() + 120_000;
    while (!registry.health().every((h) => frames(h) >= (SECONDS - 2) * FPS) && Date.now() < deadline) await sleep(100);
    for (const h of registry.health()) health.set(h.id, h);
    await registry.close();
  });

  afterAll(async () => {
    await registry?.close();
    db?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const analysed = (overlay: Overlay) => seen.get(ids[overlay]) ?? [];
  const motion = (overlay: Overlay) => health.get(ids[overlay])?.motion;

  it('analyses only the first frame of an empty scene with noise and lighting drift', () => {
    const m = motion('none');
    expect(m, 'motion stats').toBeDefined();
    expect(m!.skippedFrames).toBeGreaterThan(30);
    expect(m!.wholeFrames + m!.croppedFrames).toBe(1);
    expect(analysed('none').length).toBeLessThanOrEqual(1);
    expect(analysed('none').flatMap((d) => d.faces)).toEqual([]);
  });

  it('names a person walking into the idle scene, from the first frame analysed after they appear', () => {
    const frames = analysed('raj');
    const named = frames.find((d) => d.faces.some((f) => f.name === 'raj'));
    expect(named, `raj named; ${frames.length} frames analysed`).toBeDefined();
    // Frame 0 is the start-up frame; the next one analysed is the first with motion, and raj is found in it.
    expect(frames.length).toBeGreaterThan(2);
    expect(frames[0]!.faces).toEqual([]);
    expect(frames[1]!.faces.length, 'a face in the first frame with motion').toBeGreaterThan(0);
    // Only raj was ever seen.
    for (const d of frames) for (const f of d.faces) expect(['raj', 'Unknown']).toContain(f.name);
    const m = motion('raj')!;
    expect(m.skippedFrames).toBeGreaterThan(5);
    expect(m.croppedFrames).toBeGreaterThan(0);
  });

  it('triggers nothing with motion inside a mask', () => {
    const m = motion('tv')!;
    expect(m.wholeFrames + m.croppedFrames).toBe(1);
    expect(m.skippedFrames).toBeGreaterThan(30);
    expect(analysed('tv').flatMap((d) => d.faces)).toEqual([]);
  });

  it('keeps masks and the detection region with the camera, and refuses bad shapes', async () => {
    const again = await CameraRegistry.open({
      db,
      pool: pool(),
      matcher,
      poolSize: 2,
      defaults: cameraDefaults(ConfigSchema.parse({})),
      eventsRetentionDays: 30,
      configCameras: [],
    });
    try {
      expect(again.get(ids.tv).masks).toEqual([TV_MASK]);
      const region: Shape = {
        polygon: [
          [0.1, 0.1],
          [0.9, 0.2],
          [0.5, 0.9],
        ],
      };
      await again.update(ids.tv, { detectRegion: region, motion: false, enabled: false });
      expect(again.get(ids.tv)).toMatchObject({ detectRegion: region, motion: false, masks: [TV_MASK] });
      await again.update(ids.tv, { detectRegion: null });
      expect(again.get(ids.tv).detectRegion).toBeNull();
      for (const bad of [
        { rect: [0.5, 0, 0.2, 1] },
        {
          polygon: [
            [0, 0],
            [1, 1],
          ],
        },
        { rect: [0, 0, 2, 1] },
      ]) {
        const err = await again.update(ids.tv, { masks: [bad as Shape] }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CameraError);
        expect((err as CameraError).code).toBe('invalid_camera');
      }
    } finally {
      await again.close();
    }
  });
});
