// The motion-gating scenario of `npm run bench:streams`: many 1280×720 cameras, most of them showing an empty
// room with small changes (sensor noise, a lighting drift, a swaying plant behind a mask), a few showing people
// coming and going. Prints the busy cameras' detections per second while someone is in view, the detections run
// on idle cameras, the time from a person's first frame to their name, CPU and RSS per camera.
import { join } from 'node:path';
import type { Runtime } from '../server/runtime.ts';
import type { Shape } from '../streams/motion/shapes.ts';
import { runFfmpeg } from '../streams/sources/ffmpegProcesses.ts';
import type { Detections } from '../streams/types.ts';
import { type Person, personImage } from '../test/support/testdata.ts';
import { quantile, textTable } from './stats.ts';

const W = 1280;
const H = 720;
const FPS = 10;
/** Clip length: both clips loop every LOOP seconds. */
const LOOP = 20;
/** When each person of the busy clip is in view (clip seconds): they appear whole, walk, and vanish. */
const VISITS: readonly { person: Person; from: number; to: number }[] = [
  { person: 'penny', from: 1, to: 8 },
  { person: 'raj', from: 11, to: 18 },
];
const FACE = 220;
/** The plant in the idle clip's bottom-right corner, and its mask. */
const PLANT = { x: 1100, y: 520, w: 70, h: 150 };
const PLANT_MASK: Shape = {
  rect: [(PLANT.x - 40) / W, (PLANT.y - 20) / H, Math.min(1, (PLANT.x + PLANT.w + 40) / W), 1],
};

export interface IdleScenarioOptions {
  idle: number;
  busy: number;
  durationS: number;
  warmupS: number;
  cores: number;
  previews: boolean;
  /** CPU seconds of every live ffmpeg decoder (Linux), for the decoders' share. */
  ffmpegCpu: () => Map<number, number> | undefined;
}

async function makeClips(dir: string): Promise<{ idle: string; busy: string }> {
  const input = (file: string) => ['-loop', '1', '-framerate', String(FPS), '-t', String(LOOP), '-i', file];
  // An empty room drawn with boxes (a blurred photo of the test scenes still has faces MTCNN finds): a wall, a
  // door, a window, a table, softened, its light drifting.
  const room =
    `[0:v]drawbox=x=0:y=500:w=${W}:h=220:color=0x5a4a3a:t=fill,drawbox=x=120:y=140:w=200:h=380:color=0x6b4f35:t=fill,` +
    'drawbox=x=520:y=120:w=360:h=220:color=0xb8c8d8:t=fill,drawbox=x=560:y=420:w=300:h=30:color=0x4a3520:t=fill,' +
    `boxblur=6,eq=brightness='0.04*sin(2*PI*t/${LOOP})':eval=frame`;
  const wall = ['-f', 'lavfi', '-t', String(LOOP), '-i', `color=c=0x9a9080:s=${W}x${H}:r=${FPS}`];
  const plant =
    `[1:v]scale=${PLANT.w}:${PLANT.h},format=yuva420p[leaf];` +
    `[room][leaf]overlay=x='${PLANT.x}+12*sin(2*PI*t/3)':y=${PLANT.y}`;
  const finish = `noise=alls=4:allf=t,format=yuv420p,fps=${FPS}[out]`;
  // CRF 30: the noise, as a camera's encoder would, mostly goes (kept, a 720p stream costs 10× more to decode).
  const encode = ['-map', '[out]', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '30', '-g', String(FPS * 2)];
  encode.push('-bf', '0', '-an');
  const idle = join(dir, 'idle.mp4');
  const busy = join(dir, 'busy.mp4');
  const greenery = ['-f', 'lavfi', '-t', String(LOOP), '-i', `color=c=0x2f6b2f:s=${PLANT.w}x${PLANT.h}:r=${FPS}`];
  await runFfmpeg([...wall, ...greenery, '-filter_complex', `${room}[room];${plant},${finish}`, ...encode, idle]);
  const people = VISITS.map(
    (v, i) =>
      `[${i + 1}:v]scale=${FACE}:${FACE}[p${i}];[s${i}][p${i}]overlay=x='700-40*(t-${v.from})':y=200:` +
      `enable='between(t,${v.from},${v.to})'[s${i + 1}]`,
  );
  await runFfmpeg([
    ...wall,
    ...VISITS.flatMap((v) => input(personImage(v.person, 3))),
    '-filter_complex',
    [`${room}[s0]`, ...people, `[s${VISITS.length}]${finish}`].join(';'),
    ...encode,
    busy,
  ]);
  return { idle, busy };
}

/** The clip second of a frame: file cameras are decoded at FPS from the start of the loop, one seq per frame. */
const clipTime = (seq: number) => (seq / FPS) % LOOP;

export async function runIdleScenario(runtime: Runtime, dir: string, o: IdleScenarioOptions): Promise<void> {
  console.log(`\nmotion gating: ${o.idle} idle and ${o.busy} busy 1280×720 cameras; encoding their clips…`);
  const clips = await makeClips(dir);
  const registry = runtime.cameras;
  const idleIds = new Set<string>();
  const busyIds = new Set<string>();
  for (let i = 0; i < o.idle + o.busy; i++) {
    const busy = i < o.busy;
    const view = await registry.add({
      name: `${busy ? 'busy' : 'idle'} ${i + 1}`,
      url: busy ? clips.busy : clips.idle,
      inputFps: FPS,
      masks: busy ? [] : [PLANT_MASK],
    });
    (busy ? busyIds : idleIds).add(view.id);
    if (!o.previews) registry.setPreviewEnabled(view.id, false);
  }
  try {
    const liveBy = Date.now() + 60_000;
    while (!registry.health().every((h) => h.state === 'live')) {
      if (Date.now() > liveBy) throw new Error('cameras not live after 60 s');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, o.warmupS * 1000));
    const seen: { at: number; d: Detections }[] = [];
    const onDetections = (d: Detections) => seen.push({ at: Date.now(), d });
    registry.on('detections', onDetections);
    const skipped0 = skippedOf(registry.motionFrames());
    const cpu0 = process.cpuUsage();
    const ff0 = o.ffmpegCpu();
    const t0 = performance.now();
    const startAt = Date.now();
    const inputFps: number[] = [];
    for (let s = 0; s < o.durationS; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      for (const h of registry.health()) inputFps.push(h.inputFps);
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const ff1 = o.ffmpegCpu();
    registry.off('detections', onDetections);
    const skipped = skippedOf(registry.motionFrames()) - skipped0;
    const meanInputFps = inputFps.reduce((a, b) => a + b, 0) / Math.max(1, inputFps.length);
    report({ seen, idleIds, busyIds, wallS, startAt, skipped, meanInputFps, o, cpu, ff0, ff1 });
  } finally {
    for (const id of [...idleIds, ...busyIds]) await registry.remove(id);
  }
}

function skippedOf(frames: Record<string, { skipped: number }>): number {
  return Object.values(frames).reduce((s, f) => s + f.skipped, 0);
}

interface Measured {
  seen: { at: number; d: Detections }[];
  idleIds: Set<string>;
  busyIds: Set<string>;
  wallS: number;
  /** Epoch ms when measuring began. */
  startAt: number;
  skipped: number;
  meanInputFps: number;
  o: IdleScenarioOptions;
  cpu: NodeJS.CpuUsage;
  ff0: Map<number, number> | undefined;
  ff1: Map<number, number> | undefined;
}

function report(m: Measured): void {
  const cameras = m.idleIds.size + m.busyIds.size;
  const idleDetections = m.seen.filter(({ d }) => m.idleIds.has(d.cameraId)).length;
  // Busy cameras: detections of frames in which someone is in view, per second of such frames.
  const inView = (t: number) => VISITS.some((v) => t >= v.from && t < v.to);
  const inViewShare = VISITS.reduce((s, v) => s + (v.to - v.from), 0) / LOOP;
  const busyRates = [...m.busyIds].map(
    (id) => m.seen.filter(({ d }) => d.cameraId === id && inView(clipTime(d.seq))).length / (m.wallS * inViewShare),
  );
  // Time to name: from the frame in which a visitor appears to the first detections naming them.
  const toName: number[] = [];
  for (const id of m.busyIds) {
    const named = new Set<string>();
    for (const { at, d } of m.seen) {
      if (d.cameraId !== id) continue;
      const loop = Math.floor(d.seq / (FPS * LOOP));
      const visit = VISITS.find((v) => clipTime(d.seq) >= v.from && clipTime(d.seq) < v.to);
      if (!visit || !d.faces.some((f) => f.name === visit.person)) continue;
      const key = `${loop}:${visit.person}`;
      if (named.has(key)) continue;
      named.add(key);
      const firstSeq = loop * FPS * LOOP + Math.ceil(visit.from * FPS);
      const appearedAt = d.frameTime - ((d.seq - firstSeq) * 1000) / FPS;
      // Visits already under way when measuring began are left out.
      if (appearedAt >= m.startAt) toName.push(at - appearedAt);
    }
  }
  let ffmpeg = '-';
  if (m.ff0 && m.ff1) {
    let s = 0;
    for (const [pid, v] of m.ff1) s += v - (m.ff0.get(pid) ?? 0);
    ffmpeg = ((100 * s) / m.wallS / m.o.cores).toFixed(0);
  }
  const node = ((100 * (m.cpu.user + m.cpu.system)) / 1e6 / m.wallS / m.o.cores).toFixed(0);
  const rss = process.memoryUsage().rss / 2 ** 20;
  console.log(
    `\n${textTable(
      ['measure', 'value'],
      [
        ['busy cameras: det/s while someone is in view (each)', busyRates.map((r) => r.toFixed(1)).join(', ')],
        [`idle cameras: detections in ${m.wallS.toFixed(0)} s (all ${m.idleIds.size})`, String(idleDetections)],
        ['frames decoded per second per camera (mean; the clips have 10)', m.meanInputFps.toFixed(1)],
        ['frames skipped (no motion, no face tracked), all cameras', String(m.skipped)],
        [
          `time to name, ms: p50 / p95 / max (${toName.length} visits)`,
          toName.length === 0
            ? '-'
            : `${quantile(toName, 0.5).toFixed(0)} / ${quantile(toName, 0.95).toFixed(0)} / ${Math.max(...toName).toFixed(0)}`,
        ],
        ['CPU of both cores: node + ffmpeg, %', `${node} + ${ffmpeg}`],
        ['CPU per camera (node + ffmpeg), % of one core', perCamera(node, ffmpeg, cameras, m.o.cores)],
        ['RSS of this process, MB (per camera)', `${rss.toFixed(0)} (${(rss / cameras).toFixed(0)})`],
      ],
    )}`,
  );
  console.log(
    `\ntime to name: from the capture of the frame in which a visitor appears (clip time ${VISITS.map((v) => `${v.from} s`).join(', ')}) ` +
      'to the detections naming them; idle cameras: empty room, noise, lighting drift, a swaying plant behind a mask; ' +
      `previews ${m.o.previews ? 'on for every camera' : 'off'}.`,
  );
}

function perCamera(node: string, ffmpeg: string, cameras: number, cores: number): string {
  const total = Number(node) + (ffmpeg === '-' ? 0 : Number(ffmpeg));
  return ((total * cores) / cameras).toFixed(1);
}
