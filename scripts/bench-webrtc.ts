// `npm run bench:webrtc`: webcam-to-name latency and the server's CPU for one browser webcam. A real server runs in
// this process (werift, ffmpeg, the inference pool, facebank and tracker, the hub) with one enrolled person; real
// Chromium opens the webcam page with a fake camera playing a 640×480, 30 fps clip in which that person's face and
// an empty grey scene take turns. In the page, a probe on the page's own video (requestVideoFrameCallback and the
// mean and spread of a small patch's luminance) notes when each frame showing the switch was captured, and an
// observer notes when the name appears in and leaves the page. The same probe on the server's decoded frames, and
// the server's detections, split each latency into ingest (capture → decoded on the server: encode, network,
// depacketise, decode), pipeline (decoded → detections carrying the name: scheduling, inference, the tracker's
// vote) and delivery (→ shown in the page). Both ends share this machine's clock.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigSchema } from '../server/config.ts';
import type { WebcamSession } from '../server/live/webrtc.ts';
import { type RunningServer, startServer } from '../server/server.ts';
import { liveFfmpegPids } from '../streams/sources/ffmpegProcesses.ts';
import type { Detections, Frame } from '../streams/types.ts';
import { launchBrowser } from '../test/support/browser.ts';
import { makeTestClip, writeEmptyImage } from '../test/support/clips.ts';
import { type Person, personImage } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { cpuSeconds, quantile, textTable } from './stats.ts';

const HELP = `Usage: npm run bench:webrtc [-- options]

Runs a facerec server in this process and Chromium with a fake 640×480, 30 fps webcam showing an enrolled person's
face and an empty scene in turn, publishing from the webcam page. Prints the latency from a frame's capture in
Chromium to the name appearing in (and leaving) the page, p50 and p95, split into ingest, pipeline and delivery,
and the CPU the server uses for the webcam.

Options:
  --duration S         seconds measured after warm-up (default 60)
  --face S             seconds the face is shown in each cycle (default 2)
  --empty S            seconds of empty scene in each cycle (default 2)
  --max-detect-fps N   detections per second cap for the webcam (default: the server default, 15)
  --pool-size N        inference workers (default: the server default for this machine)
  --no-previews        no preview JPEGs (by default the page's subscription to its camera turns them on, as in use)
  --help               show this text`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    face: { type: 'string', default: '2' },
    empty: { type: 'string', default: '2' },
    'max-detect-fps': { type: 'string' },
    'pool-size': { type: 'string' },
    'no-previews': { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const DURATION_S = numberArg('duration', args.duration);
const FACE_S = numberArg('face', args.face);
const EMPTY_S = numberArg('empty', args.empty);
const PERSON: Person = 'sheldon';
const CORES = availableParallelism();
/** Luminance spread (standard deviation) of the probe patch above which it shows a face; the empty scene is flat. */
const FACE_SPREAD = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The centre patch's luminance spread of an RGB frame (the face sits in the middle of the clip's frames). */
function spread(frame: Frame): number {
  const { data, width, height } = frame.image;
  const half = Math.round(Math.min(width, height) / 10);
  let sum = 0;
  let squares = 0;
  let n = 0;
  for (let y = (height >> 1) - half; y < (height >> 1) + half; y += 2) {
    for (let x = (width >> 1) - half; x < (width >> 1) + half; x += 2) {
      const i = (y * width + x) * 3;
      const luma = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      sum += luma;
      squares += luma * luma;
      n++;
    }
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, squares / n - mean * mean));
}

/** A state (face shown, name shown) and when it began, epoch ms. */
interface Change {
  on: boolean;
  at: number;
}

/** Keeps changes of a boolean only (the first value is a starting point, not a change). */
class Changes {
  readonly list: Change[] = [];
  private state: boolean | undefined;
  note(on: boolean, at: number): void {
    if (on === this.state) return;
    if (this.state !== undefined) this.list.push({ on, at });
    this.state = on;
  }
}

/**
 * The page-side probe, run in Chromium: the same spread on each presented frame of the page's own video (drawn
 * into a small canvas), and the person's name in the page's name list. Times are epoch ms (timeOrigin + …).
 */
const PAGE_PROBE = `(() => {
  const video = document.querySelector('.webcam-view video');
  const names = document.querySelector('.webcam-info .face-names');
  const canvas = new OffscreenCanvas(48, 48);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const log = { frames: [], names: [], captureTimes: 0, presented: 0 };
  window.__bench = log;
  let face;
  const onFrame = (now, meta) => {
    const w = video.videoWidth, h = video.videoHeight, half = Math.round(Math.min(w, h) / 10);
    ctx.drawImage(video, w / 2 - half, h / 2 - half, 2 * half, 2 * half, 0, 0, 48, 48);
    const d = ctx.getImageData(0, 0, 48, 48).data;
    let sum = 0, squares = 0;
    for (let i = 0; i < d.length; i += 4) {
      const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
      sum += y; squares += y * y;
    }
    const n = d.length / 4, mean = sum / n;
    const isFace = Math.sqrt(Math.max(0, squares / n - mean * mean)) > ${FACE_SPREAD};
    log.presented++;
    if (meta.captureTime !== undefined) log.captureTimes++;
    if (isFace !== face) {
      // The camera's capture time when Chromium gives it, else the frame's presentation: the frame left the camera
      // (and went to the encoder) no later than that.
      log.frames.push({ on: isFace, at: performance.timeOrigin + (meta.captureTime ?? now), first: face === undefined });
      face = isFace;
    }
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  let named;
  const check = () => {
    const is = (names.getAttribute('data-names') || '').split(',').includes(${JSON.stringify(PERSON)});
    if (is !== named) {
      log.names.push({ on: is, at: performance.timeOrigin + performance.now(), first: named === undefined });
      named = is;
    }
  };
  new MutationObserver(check).observe(names, { attributes: true, attributeFilter: ['data-names'] });
  check();
})()`;

interface PageLog {
  frames: Array<Change & { first: boolean }>;
  names: Array<Change & { first: boolean }>;
  captureTimes: number;
  presented: number;
}

interface Timing {
  total: number;
  ingest: number;
  pipeline: number;
  delivery: number;
}

/**
 * For each change of the camera's picture in the page (face → empty or back), the server's decoded frame showing
 * it, the server's detections changing the name, and the page showing it. Changes with a step missing (the
 * name never came within the segment) are counted apart.
 */
function match(page: PageLog, decoded: Change[], named: Change[], on: boolean): { timings: Timing[]; missed: number } {
  const camera = page.frames.filter((c) => !c.first);
  const shown = page.names.filter((c) => !c.first);
  const after = (list: Change[], state: boolean, from: number, until: number) =>
    list.find((c) => c.on === state && c.at >= from && c.at < until);
  const timings: Timing[] = [];
  let missed = 0;
  for (let i = 0; i < camera.length; i++) {
    const change = camera[i]!;
    if (change.on !== on) continue;
    const until = camera[i + 1]?.at ?? Number.POSITIVE_INFINITY;
    if (until === Number.POSITIVE_INFINITY) continue; // the run ended within this segment
    // Clocks are the same; a few ms of slack for timer granularity at the two ends.
    const d = after(decoded, on, change.at - 5, until);
    const n = d && after(named, on, d.at, until + 3000);
    const s = n && after(shown, on, change.at, until + 3000);
    if (!d || !n || !s) {
      missed++;
      continue;
    }
    timings.push({ total: s.at - change.at, ingest: d.at - change.at, pipeline: n.at - d.at, delivery: s.at - n.at });
  }
  return { timings, missed };
}

/** CPU seconds so far: this process (all its threads), each ffmpeg, and every child process together. */
function cpuSnapshot() {
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    node: (usage.user + usage.system) / 1e6,
    ffmpeg: new Map(liveFfmpegPids().map((pid) => [pid, cpuSeconds(pid) ?? 0])),
    tree: cpuSeconds(process.pid, true),
    self: cpuSeconds(process.pid),
  };
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'facerec-bench-webrtc-'));
  let server: RunningServer | undefined;
  const browser = { close: async () => {} };
  try {
    const facebank = join(root, 'people', PERSON);
    await mkdir(facebank, { recursive: true });
    for (const n of [1, 2]) await copyFile(personImage(PERSON, n), join(facebank, `${PERSON}${n}.png`));
    const empty = await writeEmptyImage(join(root, 'empty.png'));
    console.log('making a 640×480, 30 fps .y4m clip for the fake camera…');
    // Two held-out photos, each followed by the empty scene; the face for --face s, the scene for --empty s.
    const images = [personImage(PERSON, 3), empty, personImage(PERSON, 4), empty];
    const slot = Math.min(FACE_S, EMPTY_S);
    const repeat = (image: string) => Array(Math.round((image === empty ? EMPTY_S : FACE_S) / slot)).fill(image);
    const clip = await makeTestClip(images.flatMap(repeat), join(root, 'webcam.y4m'), {
      fps: 30,
      secondsPerImage: slot,
    });

    const config = ConfigSchema.parse({
      host: '127.0.0.1',
      port: 0,
      facebankDir: join(root, 'people'),
      databasePath: join(root, 'bench.db'),
      executionProvider: 'cpu',
      watchFacebank: false,
      logLevel: 'warn',
      ...(args['pool-size'] ? { poolSize: args['pool-size'] } : {}),
      ...(args['max-detect-fps'] ? { webcamMaxDetectFps: args['max-detect-fps'] } : {}),
    });
    server = await startServer(config, pino({ level: 'warn' }));
    const chromium = await launchBrowser({ fakeCamera: clip });
    browser.close = () => chromium.close();
    const page = await chromium.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.url}/#/webcam`);
    await page.getByRole('button', { name: 'Use my camera' }).click();
    await page
      .locator('.webcam-info .face-names li.known', { hasText: PERSON })
      .waitFor({ timeout: 30_000 })
      .catch(() => {
        throw new Error(`the page never showed "${PERSON}" (is the server decoding the webcam?)`);
      });
    const session: WebcamSession | undefined = server.webrtc.sessions()[0];
    if (!session) throw new Error('no webcam session on the server');
    // The hub turns previews on when the page subscribes; nothing turns them on again once off here.
    if (args['no-previews']) server.runtime.cameras.setPreviewEnabled(session.cameraId, false);
    console.log(
      `${CORES} cores, ${config.poolSize} inference workers, max ${config.webcamMaxDetectFps} detections/s; ` +
        `previews ${args['no-previews'] ? 'off' : `${config.previewFps}/s`}; ` +
        `cycle: ${PERSON} ${FACE_S} s, empty ${EMPTY_S} s; measuring for ${DURATION_S} s…`,
    );

    // Server side: the probe on decoded frames, and whether the detections name the person.
    const decoded = new Changes();
    const named = new Changes();
    const onFrame = (frame: Frame) => decoded.note(spread(frame) > FACE_SPREAD, frame.capturedAt);
    const onDetections = (d: Detections) => {
      if (d.cameraId === session.cameraId)
        named.note(
          d.faces.some((f) => f.name === PERSON),
          Date.now(),
        );
    };
    session.source.on('frame', onFrame);
    server.runtime.cameras.on('detections', onDetections);
    await page.evaluate(PAGE_PROBE);

    const before = cpuSnapshot();
    const decodedBefore = session.source.stats().decoded;
    const lags: number[] = [];
    const processed: number[] = [];
    for (let waited = 0; waited < DURATION_S; waited++) {
      await sleep(1000);
      const health = server.runtime.cameras.get(session.cameraId).health;
      lags.push(health.lagMs.p50);
      processed.push(health.processedFps);
    }
    const after = cpuSnapshot();
    const stats = session.source.stats();
    session.source.off('frame', onFrame);
    server.runtime.cameras.off('detections', onDetections);
    const pageLog = (await page.evaluate('window.__bench')) as PageLog;
    const health = server.runtime.cameras.get(session.cameraId).health;

    const appear = match(pageLog, decoded.list, named.list, true);
    const leave = match(pageLog, decoded.list, named.list, false);
    const p = (values: number[], q: number) => (values.length === 0 ? '-' : quantile(values, q).toFixed(0));
    const row = (label: string, r: { timings: Timing[]; missed: number }) => {
      const t = (k: keyof Timing) => r.timings.map((x) => x[k]);
      return [
        label,
        String(r.timings.length),
        String(r.missed),
        p(t('total'), 0.5),
        p(t('total'), 0.95),
        `${p(t('ingest'), 0.5)} / ${p(t('ingest'), 0.95)}`,
        `${p(t('pipeline'), 0.5)} / ${p(t('pipeline'), 0.95)}`,
        `${p(t('delivery'), 0.5)} / ${p(t('delivery'), 0.95)}`,
      ];
    };
    console.log(
      `\n${textTable(
        ['name', 'n', 'missed', 'p50 ms', 'p95 ms', 'ingest p50/p95', 'pipeline p50/p95', 'delivery p50/p95'],
        [row('appears', appear), row('leaves', leave)],
      )}`,
    );

    const wall = (after.at - before.at) / 1000;
    let ffmpegSeconds = 0;
    for (const [pid, s] of after.ffmpeg) ffmpegSeconds += s - (before.ffmpeg.get(pid) ?? 0);
    const share = (seconds: number) => `${((100 * seconds) / wall).toFixed(0)} %`;
    const nodeSeconds = after.node - before.node;
    // Chromium's processes are this process's other children: the whole tree less this process and ffmpeg.
    const browserSeconds =
      after.tree !== undefined && before.tree !== undefined && after.self !== undefined && before.self !== undefined
        ? after.tree - before.tree - (after.self - before.self) - ffmpegSeconds
        : undefined;
    const fps = (stats.decoded - decodedBefore) / wall;
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    console.log(
      `\n${textTable(
        ['server, one webcam', 'value'],
        [
          ['video', `${stats.codec?.toUpperCase()} ${stats.width}×${stats.height}, ${fps.toFixed(1)} fps decoded`],
          ['ingest (first packet → decoded) p50 / p95', `${stats.ingestMs.p50} / ${stats.ingestMs.p95} ms`],
          ['detections per second', mean(processed).toFixed(1)],
          [
            'lag (decoded → detections) p50, p95 at the end',
            `${quantile(lags, 0.5).toFixed(0)}, ${health.lagMs.p95} ms`,
          ],
          ['lost packets, key frame requests', `${stats.lostPackets}, ${stats.keyframeRequests}`],
          ['CPU: node (werift, pipeline, inference workers)', share(nodeSeconds)],
          ['CPU: ffmpeg decoder', share(ffmpegSeconds)],
          ['CPU: server total', share(nodeSeconds + ffmpegSeconds)],
          [
            'CPU: Chromium (capture, encode, page; not the server)',
            browserSeconds === undefined ? '-' : share(browserSeconds),
          ],
        ],
      )}`,
    );
    console.log(
      `\nLatency: a frame's capture in Chromium (requestVideoFrameCallback ${pageLog.captureTimes > 0 ? 'captureTime' : 'presentation time'}) → ` +
        'the name shown in (or gone from) the page. ingest: → the frame decoded on the server; pipeline: → detections ' +
        'with (without) the name; delivery: → the page. CPU: share of one core (this machine has ' +
        `${CORES}).`,
    );
  } finally {
    await browser.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
