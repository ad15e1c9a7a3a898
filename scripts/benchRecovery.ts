// Camera recovery under `npm run bench:streams`: an RTSP camera (the test RTSP server) whose server is killed
// and restarted, or stopped (SIGSTOP) and resumed, again and again, with the inference pool idle or saturated
// by photo analyses running back to back (as heavy /rec traffic would). Each recovery is split into its steps from the pipeline's own debug logs, so a slow one says
// where its time went: the RTSP server's start-up, the wait for the next retry (backoff), ffmpeg start + RTSP
// handshake + first decoded frame (→ 'live'), and the first frame through inference (→ detections).

import { readFile } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Config } from '../server/config.ts';
import { openRuntime, type Runtime } from '../server/runtime.ts';
import type { CameraHealth, CameraState, Detections } from '../streams/types.ts';
import { type RtspTestServer, startRtspServer } from '../test/support/rtspServer.ts';
import { median, textTable } from './stats.ts';

export interface RecoveryOptions {
  /** Kills and stalls each, per load level. */
  repeats: number;
  /** Runs with this many photo analyses in flight at all times (0: idle). */
  loadLevels: number[];
  /** The RTSP camera's clip (MP4, H.264). */
  rtspClip: string;
  /** The photo analysed over and over for the load (a scene with several faces). */
  loadImage: string;
  config: Config;
}

/** One recovery, in milliseconds; undefined where a step did not happen (e.g. no retry was waited for). */
export interface RecoverySample {
  load: string;
  kind: 'kill' | 'stall';
  /** kill: restart() called → the RTSP server listens (python + GStreamer start-up). */
  serverStartMs?: number;
  /** Listening (kill) or SIGCONT (stall) → ffmpeg spawned for the attempt that went live. */
  retryWaitMs?: number;
  /** That ffmpeg spawned → first decoded frame ('live'). */
  spawnToLiveMs?: number;
  /** The product promise: listening / SIGCONT → live. */
  liveMs: number;
  /** Listening / SIGCONT → the first detections of a frame captured after it. */
  detectionsMs: number;
  /** Event loop delay, max over the recovery. */
  loopMaxMs: number;
}

interface LogLine {
  time: number;
  msg: string;
  input?: string;
  pid?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the kills and stalls, idle then loaded, and returns every sample. */
export async function measureRecovery(opts: RecoveryOptions): Promise<RecoverySample[]> {
  const samples: RecoverySample[] = [];
  for (const load of opts.loadLevels) {
    const logs: LogLine[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line.includes('rtsp://')) continue;
          logs.push(JSON.parse(line) as LogLine);
        }
        done();
      },
    });
    const runtime = await openRuntime({ ...opts.config, logLevel: 'debug' }, pino({ level: 'debug' }, sink));
    const rtsp = await startRtspServer({ clip: opts.rtspClip });
    let stopLoad = false;
    const loaders: Promise<void>[] = [];
    try {
      const label = load === 0 ? 'idle' : `pool saturated (${load} analyses in flight)`;
      console.log(`  recovery, ${label}: ${opts.repeats} kills and ${opts.repeats} stalls…`);
      const photo = await readFile(opts.loadImage);
      for (let i = 0; i < load; i++) {
        loaders.push(
          (async () => {
            while (!stopLoad) await runtime.pool.analyzeEncoded(photo, 64 * 1024 * 1024).catch(() => sleep(100));
          })(),
        );
      }
      try {
        await trials(runtime, rtsp, logs, label, opts.repeats, samples);
      } catch (err) {
        // A recovery that never came is a result too: say which, keep the samples so far, go on.
        console.log(`  recovery, ${label}: ${(err as Error).message}`);
      }
    } finally {
      stopLoad = true;
      await Promise.all(loaders);
      await rtsp.stop();
      await runtime.close();
    }
  }
  return samples;
}

async function trials(
  runtime: Runtime,
  rtsp: RtspTestServer,
  logs: LogLine[],
  load: string,
  repeats: number,
  samples: RecoverySample[],
): Promise<void> {
  const registry = runtime.cameras;
  const states: Array<{ at: number; state: CameraState }> = [];
  const detections: number[] = [];
  const camera = await registry.add({ name: 'recovering', url: rtsp.url });
  const onState = (h: CameraHealth) => {
    if (h.id === camera.id) states.push({ at: Date.now(), state: h.state });
  };
  const onDetections = (d: Detections) => {
    if (d.cameraId === camera.id) detections.push(d.frameTime);
  };
  registry.on('state', onState);
  registry.on('detections', onDetections);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const waitFor = async (what: string, check: () => number | undefined, timeoutMs: number): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = check();
      if (at !== undefined) return at;
      if (Date.now() > deadline) {
        const t0 = deadline - timeoutMs;
        const seen = states.filter((s) => s.at >= t0 - 15_000).map((s) => `${s.at - t0} ${s.state}`);
        const lines = logs
          .filter((l) => l.time >= t0 - 15_000)
          .map((l) => `${l.time - t0} ${l.msg} ${JSON.stringify(l)}`);
        const h = registry.get(camera.id).health;
        throw new Error(
          `recovery bench: no ${what} within ${timeoutMs} ms; health ${JSON.stringify(h)}, loop max ${loop.max / 1e6} ms, ${detections.length} detections, last frameTime ${(detections.at(-1) ?? 0) - t0}; states (ms from the wait's start): ${seen.join(', ')}\n${lines.join('\n')}`,
        );
      }
      await sleep(20);
    }
  };
  const stateAfter = (state: CameraState, since: number) => () =>
    states.find((s) => s.state === state && s.at >= since)?.at;
  const detectionAfter = (since: number) => () => (detections.some((t) => t >= since) ? Date.now() : undefined);
  // Live for 10.5 s: the source's backoff has reset, as for a camera that ran a while before failing.
  const settled = async () => {
    await waitFor('live camera', () => (registry.get(camera.id).health.state === 'live' ? 1 : undefined), 60_000);
    const liveSince = states.findLast((s) => s.state === 'live')?.at ?? Date.now();
    await sleep(Math.max(0, liveSince + 10_500 - Date.now()));
  };
  /** The decoder spawn that led to the live state at `liveAt`. */
  const spawnBefore = (liveAt: number) =>
    logs.findLast((l) => l.msg === 'ffmpeg decoder started' && l.input === rtsp.url && l.time <= liveAt)?.time;

  try {
    for (let i = 0; i < repeats; i++) {
      // kill: down 1 to 4 s, so the restart falls at different points of the retry cycle
      await settled();
      loop.reset();
      const killedAt = Date.now();
      await rtsp.kill();
      await waitFor('reconnecting state', stateAfter('reconnecting', killedAt), 10_000);
      await sleep(1000 + ((i * 1370) % 3000));
      const restartAt = Date.now();
      await rtsp.restart();
      const listening = Date.now();
      const liveAt = await waitFor('live state after restart', stateAfter('live', listening), 30_000);
      const detectedAt = await waitFor('detections after restart', detectionAfter(listening), 30_000);
      const spawned = spawnBefore(liveAt);
      samples.push({
        load,
        kind: 'kill',
        serverStartMs: listening - restartAt,
        ...(spawned === undefined
          ? {}
          : { retryWaitMs: Math.max(0, spawned - listening), spawnToLiveMs: liveAt - spawned }),
        liveMs: liveAt - listening,
        detectionsMs: detectedAt - listening,
        loopMaxMs: loop.max / 1e6,
      });

      // stall: stopped until the watchdog has restarted the decoder, then resumed
      await settled();
      loop.reset();
      const pausedAt = Date.now();
      rtsp.pause();
      let resumedAt: number;
      try {
        await waitFor('stalled state', stateAfter('stalled', pausedAt), 15_000);
        await sleep(1000);
      } finally {
        rtsp.resume();
        resumedAt = Date.now();
      }
      const backAt = await waitFor('live state after SIGCONT', stateAfter('live', resumedAt), 30_000);
      const detectedAfterStall = await waitFor('detections after SIGCONT', detectionAfter(resumedAt), 30_000);
      const respawned = spawnBefore(backAt);
      samples.push({
        load,
        kind: 'stall',
        ...(respawned === undefined
          ? {}
          : {
              retryWaitMs: Math.max(0, respawned - resumedAt),
              spawnToLiveMs: backAt - Math.max(respawned, resumedAt),
            }),
        liveMs: backAt - resumedAt,
        detectionsMs: detectedAfterStall - resumedAt,
        loopMaxMs: loop.max / 1e6,
      });
    }
  } finally {
    loop.disable();
    registry.off('state', onState);
    registry.off('detections', onDetections);
    await registry.remove(camera.id);
  }
}

/** Median / max of each step, per load and kind. */
export function recoveryTable(samples: RecoverySample[]): string {
  const header = [
    'load',
    'event',
    'n',
    'server start',
    'retry wait',
    'spawn → live',
    'live (promise ≤ 5000)',
    'detections',
    'loop delay max',
  ];
  const groups = new Map<string, RecoverySample[]>();
  for (const s of samples) groups.set(`${s.load}\t${s.kind}`, [...(groups.get(`${s.load}\t${s.kind}`) ?? []), s]);
  const cell = (values: Array<number | undefined>) => {
    const v = values.filter((x): x is number => x !== undefined);
    return v.length === 0 ? '-' : `${median(v).toFixed(0)} / ${Math.max(...v).toFixed(0)}`;
  };
  const rows = [...groups].map(([key, group]) => {
    const [load, kind] = key.split('\t') as [string, string];
    return [
      load,
      kind === 'kill' ? 'server killed, restarted' : 'SIGSTOP, SIGCONT',
      String(group.length),
      cell(group.map((s) => s.serverStartMs)),
      cell(group.map((s) => s.retryWaitMs)),
      cell(group.map((s) => s.spawnToLiveMs)),
      cell(group.map((s) => s.liveMs)),
      cell(group.map((s) => s.detectionsMs)),
      cell(group.map((s) => s.loopMaxMs)),
    ];
  });
  return textTable(header, rows);
}
