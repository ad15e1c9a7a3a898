// Track-level open-set evaluation (issue 10): clips built from LFW dev photos run through the real stream
// pipeline (file camera, scheduler, worker pool, tracker) against a real facebank, counting what a subscriber's
// person events say. Gallery = identities with ≥ 3 photos, enrolled with their first 2 (through the facebank's
// own scan); a gallery track shows their next photos one after another at the same place; a stranger track
// shows all the photos of an identity with fewer than 3 (so never enrolled). Tracks are separated by a moment
// with nobody in view. The bar: no stranger named in any event, every enrolled person named (and rightly).
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { calibrationOf } from '../facebank/calibration.ts';
import { Facebank } from '../facebank/facebank.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import { ConfigSchema, cameraDefaults } from '../server/config.ts';
import { EventsStore, MAX_EVENT_CROPS } from '../streams/events.ts';
import { CameraPipeline } from '../streams/pipeline/pipeline.ts';
import { SharedScheduler } from '../streams/pipeline/sharedScheduler.ts';
import { FileSource } from '../streams/sources/fileSource.ts';
import { DECODER_TIMINGS } from '../streams/sources/sourceDefaults.ts';
import type { Detections, PersonEvent } from '../streams/types.ts';
import { makeTestClip, writeEmptyImage } from '../test/support/clips.ts';

export interface TrackEvalOptions {
  /** LFW images folder: `<dir>/<Name>/<Name>_NNNN.jpg`. */
  imagesDir: string;
  /** Scratch folder for the facebank, database and clip. */
  workDir: string;
  pool: FacePool;
  /** A fixed cosine threshold; undefined: derived from `fpir` and the gallery size, as the server does. */
  threshold: number | undefined;
  fpir: number;
  /** Gallery people shown as tracks (spread evenly over the gallery). */
  people: number;
  /** Strangers shown as tracks (spread evenly over the identities with fewer than 3 photos). */
  strangers: number;
  /** Gallery size: all identities with ≥ 3 photos, or the first this many (always including those shown). */
  gallery?: number;
  /** Photos per gallery track (from the 3rd on; default 3). */
  photosPerTrack?: number;
  onProgress?: (message: string) => void;
}

export interface TrackOutcome {
  identity: string;
  enrolled: boolean;
  /** Names of the person_appeared events during this track. */
  named: string[];
  /** Frames of it the pipeline processed. */
  frames: number;
}

export interface TrackEvalReport {
  gallerySize: number;
  threshold: number;
  tracks: TrackOutcome[];
  /** Enrolled people named rightly in an event / shown. */
  enrolledNamed: number;
  enrolledShown: number;
  /** Enrolled people named as someone else in an event. */
  enrolledMisnamed: number;
  /** Tracks with fewer than MIN_FRAMES processed frames, left out of the counts. */
  notSeen: number;
  /** Strangers given a name in an event / shown. */
  strangersNamed: number;
  strangersShown: number;
}

const FPS = 10;
const LEAD_IN_SECONDS = 5;
/** A track the pipeline processed fewer frames of (a stall on a loaded machine) is reported as not seen. */
const MIN_FRAMES = 3;
/** Each photo is on screen this long; a moment with nobody in view separates tracks. */
const SECONDS_PER_PHOTO = 1;

interface Identity {
  name: string;
  photos: string[];
}

async function identities(imagesDir: string): Promise<Identity[]> {
  const names = (await readdir(imagesDir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  names.sort();
  return Promise.all(
    names.map(async (name) => ({
      name,
      photos: (await readdir(join(imagesDir, name)))
        .filter((f) => f.endsWith('.jpg'))
        .sort()
        .map((f) => join(imagesDir, name, f)),
    })),
  );
}

/** `n` items spread evenly over `items` (deterministic). */
function spread<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  return Array.from({ length: n }, (_, i) => items[Math.floor(((i + 0.5) * items.length) / n)]!);
}

export async function evaluateOpenSetTracks(o: TrackEvalOptions): Promise<TrackEvalReport> {
  const progress = o.onProgress ?? (() => {});
  const all = await identities(o.imagesDir);
  const galleryAll = all.filter((i) => i.photos.length >= 3);
  const strangerAll = all.filter((i) => i.photos.length < 3);
  const shownPeople = spread(galleryAll, o.people);
  const shownStrangers = spread(strangerAll, o.strangers);
  const gallery =
    o.gallery === undefined
      ? galleryAll
      : [...new Set([...shownPeople, ...galleryAll.slice(0, Math.max(0, o.gallery - shownPeople.length))])];

  // The facebank: each gallery person's first two photos, enrolled by the facebank's own scan.
  const peopleDir = join(o.workDir, 'people');
  for (const person of gallery) {
    await mkdir(join(peopleDir, person.name), { recursive: true });
    for (const photo of person.photos.slice(0, 2))
      await copyFile(photo, join(peopleDir, person.name, photo.split('/').pop()!));
  }
  progress(`enrolling ${gallery.length} people (${gallery.length * 2} photos)…`);
  const db = new Database(join(o.workDir, 'eval.db'));
  const facebank = await Facebank.open({
    dir: peopleDir,
    db,
    analyzer: o.pool,
    modelId: 'mobilefacenet@eval-tracks',
    threshold: o.threshold,
    fpir: o.fpir,
    minQuality: ConfigSchema.parse({}).minFaceQuality,
    calibration: calibrationOf('mobilefacenet'),
    maxPixels: 40_000_000,
    flip: false,
    concurrency: 2,
    watch: false,
  });

  // The clip: tracks in an interleaved order (a person, a stranger, …), each followed by nobody.
  const perTrack = o.photosPerTrack ?? 3;
  const tracks: { identity: Identity; enrolled: boolean; photos: string[] }[] = [];
  for (let i = 0; i < Math.max(shownPeople.length, shownStrangers.length); i++) {
    const p = shownPeople[i];
    if (p) tracks.push({ identity: p, enrolled: true, photos: p.photos.slice(2, 2 + perTrack) });
    const s = shownStrangers[i];
    // A stranger with one photo is shown twice as long, so every track lasts about as long.
    if (s)
      tracks.push({
        identity: s,
        enrolled: false,
        photos: s.photos.length === 1 ? [s.photos[0]!, s.photos[0]!] : s.photos,
      });
  }
  const empty = await writeEmptyImage(join(o.workDir, 'empty.png'));
  // Nobody for the first seconds: the pool's first frames are slow (warm-up), and no track should pay for it.
  const images: string[] = Array.from({ length: LEAD_IN_SECONDS }, () => empty);
  /** For each photo slot of the clip: the track index, or -1 for nobody. */
  const slotTrack: number[] = images.map(() => -1);
  tracks.forEach((t, i) => {
    for (const photo of t.photos) {
      images.push(photo);
      slotTrack.push(i);
    }
    images.push(empty);
    slotTrack.push(-1);
  });
  progress(`encoding a clip of ${tracks.length} tracks (${images.length} s)…`);
  const clip = await makeTestClip(images, join(o.workDir, 'tracks.mp4'), {
    fps: FPS,
    secondsPerImage: SECONDS_PER_PHOTO,
  });

  // The product's settings, but for the rate: the clip is analysed frame by frame.
  const defaults = ConfigSchema.parse({});
  const camera = cameraDefaults(defaults);
  const events = new EventsStore(db, { maxCrops: MAX_EVENT_CROPS, retentionDays: defaults.eventsRetentionDays });
  const scheduler = new SharedScheduler(2);
  const pipeline = new CameraPipeline({
    cameraId: 'eval',
    name: 'LFW tracks',
    source: new FileSource({ ...DECODER_TIMINGS, fps: 0, path: clip }),
    scheduler,
    pool: o.pool,
    matcher: facebank,
    events,
    maxDetectFps: FPS,
    minFaceSize: camera.minFaceSize,
    previewFps: 0,
    previewWidth: camera.previewWidth,
  });
  const detections: Detections[] = [];
  const emitted: PersonEvent[] = [];
  const framesPerSlot = FPS * SECONDS_PER_PHOTO;
  const clipFrames = images.length * framesPerSlot;
  pipeline.on('detections', (d) => detections.push(d));
  pipeline.on('event', (e) => emitted.push(e));
  progress(`playing it through the pipeline (${images.length} s)…`);
  const played = new Promise<void>((resolve) => {
    const check = (d: Detections) => {
      if (d.seq < clipFrames) return;
      pipeline.off('detections', check);
      resolve();
    };
    pipeline.on('detections', check);
  });
  pipeline.start();
  // The whole clip once (the file camera loops it), with some slack for a loaded machine.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([played, new Promise((r) => (timer = setTimeout(r, images.length * 1000 * 3 + 30_000)))]);
  clearTimeout(timer);
  await pipeline.stop();
  scheduler.stop();
  await facebank.close();
  events.close();
  db.close();

  const seqAt = new Map(detections.map((d) => [d.frameTime, d.seq]));
  const trackOf = (seq: number) => (seq < clipFrames ? slotTrack[Math.floor(seq / framesPerSlot)]! : -1);
  const outcomes: TrackOutcome[] = tracks.map((t) => ({
    identity: t.identity.name,
    enrolled: t.enrolled,
    named: [],
    frames: 0,
  }));
  for (const d of detections) {
    const i = trackOf(d.seq);
    if (i >= 0) outcomes[i]!.frames++;
  }
  for (const e of emitted) {
    if (e.type !== 'person_appeared') continue;
    const seq = seqAt.get(e.at);
    const i = seq === undefined ? -1 : trackOf(seq);
    if (i >= 0) outcomes[i]!.named.push(e.name);
  }
  const seen = outcomes.filter((t) => t.frames >= MIN_FRAMES);
  const enrolled = seen.filter((t) => t.enrolled);
  const strangers = seen.filter((t) => !t.enrolled);
  return {
    gallerySize: gallery.length,
    threshold: facebank.threshold,
    tracks: outcomes,
    notSeen: outcomes.length - seen.length,
    enrolledNamed: enrolled.filter((t) => t.named.includes(t.identity)).length,
    enrolledShown: enrolled.length,
    enrolledMisnamed: enrolled.filter((t) => t.named.some((n) => n !== t.identity && n !== 'Unknown')).length,
    strangersNamed: strangers.filter((t) => t.named.some((n) => n !== 'Unknown')).length,
    strangersShown: strangers.length,
  };
}
