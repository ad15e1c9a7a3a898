// `npm run bench:streams`: the live pipeline under load. For 1, 2, 4 and 8 file cameras playing a 1280×720,
// 25 fps clip made from the test photos (in real time, looped), the real pipeline runs in this process (camera
// registry, shared scheduler, inference pool, facebank, tracker, previews; no HTTP) and this reports, per level:
// processed detections per second per camera (min / mean), end-to-end lag (frame captured → detections
// emitted) p50 / p95, CPU of this process and of the ffmpeg decoders (share of the whole machine), and RSS.
// `--soak` runs one camera for 10 minutes and reports RSS at the start and the end. Then camera recovery: an
// RTSP camera whose server is killed and restarted, or stopped and resumed, with the pool idle and saturated
// (scripts/benchRecovery.ts), median / max of each step. Between the two, the motion-gating scenario
// (scripts/benchIdleCameras.ts): many cameras mostly idle, two busy. `--no-motion` analyses every frame whole.
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ConfigSchema } from '../server/config.ts';
import { openRuntime, type Runtime } from '../server/runtime.ts';
import { liveFfmpegPids } from '../streams/sources/ffmpegProcesses.ts';
import type { Detections } from '../streams/types.ts';
import { makePeopleClip, makeTestClip } from '../test/support/clips.ts';
import { type Person, personImage, SCENES } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { runIdleScenario } from './benchIdleCameras.ts';
import { measureRecovery, recoveryTable } from './benchRecovery.ts';
import { cpuSeconds, quantile, textTable } from './stats.ts';

const HELP = `Usage: npm run bench:streams [-- options]

Runs the real camera pipeline in this process on 1280×720, 25 fps file cameras (a looped clip made from the
test photos) and prints, per number of cameras: detections per second per camera (min / mean), end-to-end lag
(frame captured → detections emitted) p50 / p95, CPU (this process, and the ffmpeg decoders) as a share of the
whole machine, and RSS. Then camera recovery: an RTSP camera's server killed and restarted, and stopped
(SIGSTOP) and resumed, with the pool idle and saturated by photo analyses: median / max milliseconds of each step
(server start-up, retry wait, ffmpeg spawn → live, listening → live, listening → detections).

Options:
  --levels LIST        camera counts to run (default 1,2,4,8)
  --duration S         seconds measured per level, after warm-up (default 30)
  --warmup S           seconds after every camera is live before measuring (default 3; 60 with --soak, so
                       the soak starts once the inference arenas and heap have grown to their working size)
  --soak               one camera for --soak-minutes instead; RSS at the start and the end
  --soak-minutes M     soak length (default 10)
  --max-detect-fps N   detections per second cap per camera (default: the server default, 10)
  --input-fps N        frames per second decoded per camera (default: the server's choice, see README)
  --pool-size N        inference workers (default: the server default for this machine)
  --threads N          intra-op threads per worker (default: the server default, 1)
  --provider P         auto, cpu or cuda (default cpu)
  --no-previews        no preview JPEGs (by default every camera makes them, as if a dashboard watched all)
  --no-motion          every camera analyses every frame whole (CAMERA_MOTION=false: as before motion gating)
  --idle-cameras N     the motion scenario: N 1280×720 cameras of an empty room with small changes (noise,
                       lighting drift, a swaying plant behind a mask) next to --busy-cameras showing people
                       coming and going; prints the busy ones' det/s while someone is in view, detections on
                       idle ones, time from a person's first frame to their name, CPU and RSS per camera
                       (default 14; 0: skipped)
  --busy-cameras N     busy cameras of the motion scenario (default 2)
  --recovery N         kills and stalls per load level (default 5; 0: no recovery figures)
  --recovery-load N    photo analyses kept in flight to saturate the pool in the loaded recovery runs
                       (default 4; 0: idle only)
  --recovery-only      recovery figures only (no camera levels)
  --help               show this text`;

const { values: args } = parseArgs({
  options: {
    levels: { type: 'string', default: '1,2,4,8' },
    duration: { type: 'string', default: '30' },
    warmup: { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '10' },
    'max-detect-fps': { type: 'string' },
    'input-fps': { type: 'string' },
    'pool-size': { type: 'string' },
    threads: { type: 'string' },
    provider: { type: 'string', default: 'cpu' },
    'no-previews': { type: 'boolean', default: false },
    'no-motion': { type: 'boolean', default: false },
    'idle-cameras': { type: 'string', default: '14' },
    'busy-cameras': { type: 'string', default: '2' },
    recovery: { type: 'string', default: '5' },
    'recovery-load': { type: 'string', default: '4' },
    'recovery-only': { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const LEVELS = args.soak ? [1] : args.levels.split(',').map((s) => Math.round(numberArg('levels', s.trim())));
const DURATION_S = args.soak
  ? numberArg('soak-minutes', args['soak-minutes']) * 60
  : numberArg('duration', args.duration);
const WARMUP_S =
  args.warmup === undefined ? (args.soak ? 60 : 3) : numberArg('warmup', args.warmup, { allowZero: true });
const PREVIEWS = !args['no-previews'];
const RECOVERY_REPEATS = args.soak ? 0 : numberArg('recovery', args.recovery, { allowZero: true, integer: true });
const RECOVERY_LOAD = numberArg('recovery-load', args['recovery-load'], { allowZero: true, integer: true });
const CORES = availableParallelism();

const PEOPLE: Person[] = ['penny', 'raj', 'amy', 'howard'];
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU seconds of each live ffmpeg decoder (Linux; undefined elsewhere). */
function ffmpegCpuSeconds(): Map<number, number> | undefined {
  if (process.platform !== 'linux') return undefined;
  const out = new Map<number, number>();
  for (const pid of liveFfmpegPids()) {
    const seconds = cpuSeconds(pid);
    if (seconds !== undefined) out.set(pid, seconds); // undefined: exited meanwhile
  }
  return out;
}

interface LevelResult {
  cameras: number;
  fpsMin: number;
  fpsMean: number;
  inputFpsMean: number;
  lagP50: number;
  lagP95: number;
  cpu: number;
  ffmpegCpu: number | undefined;
  rssStart: number;
  rssEnd: number;
  rssMax: number;
  previews: number;
}

async function runLevel(runtime: Runtime, clip: string, n: number): Promise<LevelResult> {
  const registry = runtime.cameras;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const view = await registry.add({
      name: `bench ${i + 1}`,
      url: clip,
      ...(args['input-fps'] ? { inputFps: numberArg('input-fps', args['input-fps']) } : {}),
    });
    ids.push(view.id);
    if (!PREVIEWS) registry.setPreviewEnabled(view.id, false);
  }
  try {
    const liveBy = Date.now() + 30_000;
    while (!registry.health().every((h) => h.state === 'live')) {
      if (Date.now() > liveBy) {
        throw new Error(`cameras not live after 30 s: ${JSON.stringify(registry.health().map((h) => h.lastError))}`);
      }
      await sleep(100);
    }
    await sleep(WARMUP_S * 1000);

    const counts = new Map(ids.map((id) => [id, 0]));
    const lags: number[] = [];
    let previews = 0;
    const onDetections = (d: Detections) => {
      counts.set(d.cameraId, (counts.get(d.cameraId) ?? 0) + 1);
      if (lags.length < 2_000_000) lags.push(Date.now() - d.frameTime);
    };
    const onPreview = () => previews++;
    registry.on('detections', onDetections);
    registry.on('preview', onPreview);

    const rssStart = process.memoryUsage().rss;
    let rssMax = rssStart;
    const cpu0 = process.cpuUsage();
    const ff0 = ffmpegCpuSeconds();
    const t0 = performance.now();
    const inputFps: number[] = [];
    const endAt = t0 + DURATION_S * 1000;
    let nextReport = t0 + 60_000;
    while (performance.now() < endAt) {
      await sleep(Math.min(1000, endAt - performance.now()));
      rssMax = Math.max(rssMax, process.memoryUsage().rss);
      for (const h of registry.health()) inputFps.push(h.inputFps);
      if (args.soak && performance.now() >= nextReport) {
        nextReport += 60_000;
        const minutes = ((performance.now() - t0) / 60_000).toFixed(0);
        console.log(`  soak ${minutes} min: RSS ${mb(process.memoryUsage().rss)} MB`);
      }
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const ff1 = ffmpegCpuSeconds();
    registry.off('detections', onDetections);
    registry.off('preview', onPreview);

    let ffmpegCpu: number | undefined;
    if (ff0 && ff1) {
      let seconds = 0;
      for (const [pid, s] of ff1) seconds += s - (ff0.get(pid) ?? 0);
      ffmpegCpu = (100 * seconds) / wallS / CORES;
    }
    const fps = [...counts.values()].map((c) => c / wallS);
    return {
      cameras: n,
      fpsMin: Math.min(...fps),
      fpsMean: fps.reduce((a, b) => a + b, 0) / fps.length,
      inputFpsMean: inputFps.reduce((a, b) => a + b, 0) / Math.max(1, inputFps.length),
      lagP50: quantile(lags, 0.5),
      lagP95: quantile(lags, 0.95),
      cpu: (100 * (cpu.user + cpu.system)) / 1e6 / wallS / CORES,
      ffmpegCpu,
      rssStart,
      rssEnd: process.memoryUsage().rss,
      rssMax,
      previews: previews / wallS,
    };
  } finally {
    for (const id of ids) await registry.remove(id);
  }
}

function table(results: LevelResult[]): string {
  const header = [
    'cameras',
    'det/s per cam min',
    'mean',
    'input fps',
    'lag p50 ms',
    'lag p95 ms',
    'node CPU %',
    'ffmpeg CPU %',
    'previews/s',
    'RSS MB (max)',
  ];
  const rows = results.map((r) => [
    String(r.cameras),
    r.fpsMin.toFixed(1),
    r.fpsMean.toFixed(1),
    r.inputFpsMean.toFixed(1),
    r.lagP50.toFixed(0),
    r.lagP95.toFixed(0),
    r.cpu.toFixed(0),
    r.ffmpegCpu === undefined ? '-' : r.ffmpegCpu.toFixed(0),
    r.previews.toFixed(1),
    `${mb(r.rssEnd)} (${mb(r.rssMax)})`,
  ]);
  return textTable(header, rows);
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'facerec-bench-streams-'));
  let runtime: Runtime | undefined;
  try {
    const facebank = join(root, 'people');
    for (const person of PEOPLE) {
      await mkdir(join(facebank, person), { recursive: true });
      for (const n of [1, 2])
        await copyFile(personImage(person, n), join(facebank, person, basename(personImage(person, n))));
    }
    // Scenes (several faces each) between single faces, each shown 2 s: an 18 s loop.
    const images = SCENES.flatMap((scene, i) => (PEOPLE[i] ? [scene, personImage(PEOPLE[i], 3)] : [scene]));
    console.log('encoding a 1280×720, 25 fps clip from the test photos…');
    const clip = await makeTestClip(images, join(root, 'bench.mp4'), {
      fps: 25,
      size: { width: 1280, height: 720 },
      secondsPerImage: 2,
      imageScale: 1,
    });

    const config = ConfigSchema.parse({
      facebankDir: facebank,
      databasePath: join(root, 'bench.db'),
      executionProvider: args.provider,
      watchFacebank: false,
      logLevel: 'warn',
      ...(args['pool-size'] ? { poolSize: args['pool-size'] } : {}),
      ...(args.threads ? { intraOpThreads: args.threads } : {}),
      ...(args['max-detect-fps'] ? { maxDetectFps: args['max-detect-fps'] } : {}),
      cameraMotion: !args['no-motion'],
    });
    runtime = await openRuntime(config, pino({ level: 'warn' }));
    console.log(
      `${CORES} cores, ${config.poolSize} inference workers (${runtime.pool.info.provider}), ` +
        `max ${config.maxDetectFps} detections/s per camera, motion gating ${config.cameraMotion ? 'on' : 'off'}, previews ${PREVIEWS ? `${config.previewFps}/s at ${config.previewWidth} px` : 'off'}; ` +
        `${args.soak ? `soak: 1 camera for ${DURATION_S / 60} min` : `${DURATION_S} s per level`}\n`,
    );

    const results: LevelResult[] = [];
    for (const n of args['recovery-only'] ? [] : LEVELS) {
      console.log(`${n} camera${n === 1 ? '' : 's'}…`);
      results.push(await runLevel(runtime, clip, n));
    }
    if (results.length > 0) {
      console.log(`\n${table(results)}`);
      console.log(
        '\ndet/s: detections emitted per camera per second; lag: frame read from ffmpeg → detections emitted; ' +
          `CPU: share of all ${CORES} cores (node includes the inference worker threads).`,
      );
    }
    const idle = numberArg('idle-cameras', args['idle-cameras'], { allowZero: true, integer: true });
    if (idle > 0 && !args.soak && !args['recovery-only']) {
      await runIdleScenario(runtime, root, {
        idle,
        busy: numberArg('busy-cameras', args['busy-cameras'], { allowZero: true, integer: true }),
        durationS: DURATION_S,
        warmupS: WARMUP_S,
        cores: CORES,
        previews: PREVIEWS,
        ffmpegCpu: ffmpegCpuSeconds,
      });
    }
    if (RECOVERY_REPEATS > 0) {
      await runtime.close();
      runtime = undefined;
      const rtspClip = await makePeopleClip(PEOPLE);
      try {
        console.log('\ncamera recovery…');
        const samples = await measureRecovery({
          repeats: RECOVERY_REPEATS,
          loadLevels: RECOVERY_LOAD > 0 ? [0, RECOVERY_LOAD] : [0],
          rtspClip: rtspClip.path,
          loadImage: SCENES[0]!,
          config,
        });
        console.log(`\n${recoveryTable(samples)}`);
        console.log(
          '\nmedian / max ms. kill: the RTSP server SIGKILLed, down 1-4 s, restarted; times from when it listens ' +
            'again. stall: SIGSTOP until the watchdog restarted the decoder (+1 s), then SIGCONT; times from ' +
            'SIGCONT. retry wait: until ffmpeg was spawned for the attempt that went live; live: first decoded ' +
            'frame; detections: first detections of a frame captured after it. The camera was live 10.5 s before ' +
            'each failure.',
        );
      } finally {
        await rtspClip.remove();
      }
    }
    if (args.soak) {
      const r = results[0]!;
      console.log(
        `soak: RSS ${mb(r.rssStart)} MB at the start, ${mb(r.rssEnd)} MB at the end (max ${mb(r.rssMax)} MB) ` +
          `over ${DURATION_S / 60} min`,
      );
    }
  } finally {
    await runtime?.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
