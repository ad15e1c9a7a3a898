// `npm run bench`: face analysis speed and memory on this machine's CPU.
// - per-stage medians for a 640×480 photo with one face and a 1280×720 photo with six;
// - the embedder alone, float against its int8 build, on the same face in interleaved runs;
// - MTCNN's three nets, float against int8 builds quantised here (scripts/benchMtcnnInt8.ts);
// - end-to-end analyze time against the pure model time for the same tensors (the floor);
// - pool throughput when saturated, and RSS across many calls.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import {
  type AnalyzeOptions,
  type AnalyzeTimings,
  analyze,
  type FaceModels,
  releaseFaceModels,
} from '../models/analyze.ts';
import { QUANTIZED } from '../models/catalog.ts';
import { alignedCrops } from '../models/embedder.ts';
import { byMtcnnGraph } from '../models/faceModelFiles.ts';
import { loadFaceModels } from '../models/faceModels.ts';
import { decodeImage, oneLibvipsThreadPerImage } from '../models/image.ts';
import { modelPath } from '../models/manifest.ts';
import { detectFaces } from '../models/mtcnn/detector.ts';
import { defaultFacePoolSettings, FacePool } from '../models/pool/facePool.ts';
import { openSession } from '../models/runtime/session.ts';
import { processAllocator } from '../server/allocator.ts';
import { oneFacePhoto } from '../test/support/photos.ts';
import { MTCNN_REFERENCE_DIR } from '../test/support/testdata.ts';
import { compareMtcnnInt8 } from './benchMtcnnInt8.ts';
import { recordedSession } from './recordedSession.ts';
import { median } from './stats.ts';

const DEFAULT_EMBEDDER = defaultFacePoolSettings().embedder;
/** The float embedder and its int8 builds. */
const COMPARED = [
  'mobilefacenet',
  ...Object.entries(QUANTIZED).flatMap(([n, q]) => (q.from === 'mobilefacenet' ? [n] : [])),
];

const HELP = `Usage: npm run bench [-- options]

Options:
  --runs N        timed runs per measurement after warm-up (default 30)
  --calls N       calls through the pool for the memory check (default 10000)
  --threads N     intra-op threads for the in-process measurements (default 1)
  --embedder NAME the embedder of the stage tables and the pool (default ${DEFAULT_EMBEDDER})
  --embedders A,B the embedders compared on one face (default ${COMPARED.join(',')})
  --embedders-only only that comparison
  --calibration N LFW dev training photos the int8 MTCNN nets' ranges are measured on (default 100; 0 skips
                  the MTCNN float-vs-int8 comparison)
  --help          show this text`;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    calls: { type: 'string', default: '10000' },
    threads: { type: 'string', default: '1' },
    embedder: { type: 'string', default: DEFAULT_EMBEDDER },
    embedders: { type: 'string', default: COMPARED.join(',') },
    'embedders-only': { type: 'boolean' },
    calibration: { type: 'string', default: '100' },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const RUNS = Number(args.runs);
const CALLS = Number(args.calls);
const THREADS = Number(args.threads);
const OPTIONS: AnalyzeOptions = { detect: { minFaceSize: 40 } };
/**
 * Decodes and analyses before a stage table's timed runs, the same work as each timed run: a process's first
 * calls grow its allocator's arenas and fault fresh pages in. With 3 analyses of an already decoded photo, three
 * runs gave decode medians of 3.3–3.8 ms; with this, 2.9–3.3.
 */
const WARM_UP = 20;
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

/** A 1280×720 JPEG with six faces: the MTCNN reference photo letterboxed to 720p. */
async function sixFacePhoto(): Promise<Buffer> {
  return sharp(readFileSync(`${MTCNN_REFERENCE_DIR}faces.jpg`))
    .resize(1280, 720, { fit: 'contain', background: '#202020' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** Wraps each session so that every run's feeds are kept, to be replayed alone as the floor. */
function recording(models: FaceModels): {
  models: FaceModels;
  runs: [ort.InferenceSession, ort.InferenceSession.FeedsType][];
} {
  const runs: [ort.InferenceSession, ort.InferenceSession.FeedsType][] = [];
  const wrap = (s: ort.InferenceSession) => recordedSession(s, (feeds) => runs.push([s, feeds]));
  return {
    models: {
      ...models,
      mtcnn: byMtcnnGraph((g) => wrap(models.mtcnn[g])),
      embedder: wrap(models.embedder),
    },
    runs,
  };
}

async function stageTable(models: FaceModels, label: string, jpeg: Buffer): Promise<void> {
  const image = await decodeImage(jpeg, { maxPixels: 1e8 });
  const rec = recording(models);
  const faces = await analyze(rec.models, image, OPTIONS);
  const floorRuns = rec.runs.slice();
  for (let i = 0; i < WARM_UP; i++) await analyze(models, await decodeImage(jpeg, { maxPixels: 1e8 }), OPTIONS);

  const stages: Record<string, number[]> = {};
  const totals: number[] = [];
  const floors: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const decoded = await decodeImage(jpeg, { maxPixels: 1e8 });
    const decode = performance.now() - t;
    const timings: AnalyzeTimings = {};
    await analyze(models, decoded, OPTIONS, timings);
    totals.push(performance.now() - t);
    const record = (stage: string, ms: number) => {
      const list = stages[stage] ?? [];
      list.push(ms);
      stages[stage] = list;
    };
    record('decode', decode);
    for (const [k, v] of Object.entries(timings)) record(k, v);
    t = performance.now();
    for (const [session, feeds] of floorRuns) await session.run(feeds);
    floors.push(performance.now() - t);
  }
  const e2e = median(totals);
  const floor = median(floors);
  console.log(`\n${label}: ${faces.length} face(s), ${floorRuns.length} session runs per call`);
  for (const stage of ['decode', 'pyramid', 'pnet', 'rnet', 'onet', 'quality', 'align', 'embed']) {
    console.log(
      `  ${stage.padEnd(26)} ${median(stages[stage] ?? [0])
        .toFixed(2)
        .padStart(8)} ms`,
    );
  }
  console.log(`  ${'end to end (decode→embed)'.padEnd(26)} ${e2e.toFixed(2).padStart(8)} ms`);
  console.log(`  ${'pure model time (floor)'.padEnd(26)} ${floor.toFixed(2).padStart(8)} ms`);
  console.log(`  ${'end to end / floor'.padEnd(26)} ${(e2e / floor).toFixed(2).padStart(8)} ×`);
}

async function throughput(pool: FacePool, label: string, jpeg: Buffer, requests: number): Promise<void> {
  const inFlight = pool.stats().slots * 2;
  let next = 0;
  let faces = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < requests) {
        const result = await pool.analyzeEncoded(jpeg, 1e8, OPTIONS);
        faces += result.faces.length;
      }
    }),
  );
  const s = (performance.now() - t) / 1000;
  console.log(
    `  ${label.padEnd(26)} ${(requests / s).toFixed(1).padStart(8)} images/s ${(faces / s).toFixed(1).padStart(8)} faces/s`,
  );
}

/**
 * The embedders alone on the same aligned face, one run of each in turn (the order alternating from round to
 * round), so that the machine's load weighs on all of them alike.
 */
async function compareEmbedders(models: FaceModels, jpeg: Buffer, names: string[]): Promise<void> {
  const image = await decodeImage(jpeg, { maxPixels: 1e8 });
  const [face] = await detectFaces(models.mtcnn, image, OPTIONS.detect);
  if (!face) throw new Error('no face in the benchmark photo');
  const size = models.embedderShape.size;
  const crop = new ort.Tensor('float32', alignedCrops(image, size, [face.landmarks], false), [1, size, size, 3]);
  const run = (s: ort.InferenceSession) => s.run({ [s.inputNames[0]!]: crop });
  const sessions = await Promise.all(
    names.map(async (n) => (await openSession(modelPath(n), { provider: 'cpu', intraOpThreads: THREADS })).session),
  );
  // Warm-up; the last output of each is kept to compare the embeddings.
  const outputs: Float32Array[] = [];
  for (const [k, session] of sessions.entries()) {
    for (let i = 0; i < 5; i++) outputs[k] = (await run(session))[session.outputNames[0]!]!.data as Float32Array;
  }
  const times: number[][] = sessions.map(() => []);
  for (let round = 0; round < RUNS; round++) {
    const order = round % 2 === 0 ? sessions.keys() : [...sessions.keys()].reverse();
    for (const k of order) {
      const t = performance.now();
      await run(sessions[k]!);
      times[k]!.push(performance.now() - t);
    }
  }
  const unit = (v: Float32Array) => {
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  };
  const reference = unit(outputs[0]!);
  const base = median(times[0]!);
  console.log(
    `\nEmbedders on one aligned ${size}×${size} face, CPU, ${THREADS} thread(s), interleaved runs (medians of ${RUNS})`,
  );
  for (const [k, name] of names.entries()) {
    const ms = median(times[k]!);
    const cos = unit(outputs[k]!).reduce((sum, x, i) => sum + x * reference[i]!, 0);
    const versus =
      k === 0 ? '' : `  ${(base / ms).toFixed(2)}× the speed of ${names[0]}, cosine with it ${cos.toFixed(4)}`;
    console.log(`  ${name.padEnd(26)} ${ms.toFixed(2).padStart(8)} ms${versus}`);
  }
  await Promise.all(sessions.map((s) => s.release()));
}

async function main(): Promise<void> {
  const [one, six] = await Promise.all([oneFacePhoto(), sixFacePhoto()]);
  console.log(`facerec bench: CPU, ${THREADS} intra-op thread(s) in process, medians of ${RUNS} runs after warm-up`);
  const models = await loadFaceModels({ provider: 'auto', intraOpThreads: THREADS }, args.embedder);
  console.log(`provider: ${models.provider}${models.fallbackReason ? ` (${models.fallbackReason})` : ''}`);
  // `npm run bench` runs under the server's launcher (bin/with-allocator.sh), so it measures the allocator the
  // server runs on: on glibc's defaults the same analysis faulted pages in and took about 1.4 ms more.
  const allocator = processAllocator();
  console.log(`allocator: ${allocator}${allocator === 'jemalloc' ? ` (${process.env.MALLOC_CONF ?? ''})` : ''}`);
  // As in the pool's workers. The pool sets it too, but only once it starts, after the stage tables: with libvips'
  // default of one thread per core, a decode's median took 2.6 against 2.2 ms.
  oneLibvipsThreadPerImage();
  console.log(`libvips threads per operation: ${sharp.concurrency()}`);
  if (!args['embedders-only']) {
    console.log(`embedder: ${args.embedder}`);
    await stageTable(models, '640×480, 1 face, minFaceSize 40', one);
    await stageTable(models, '1280×720, 6 faces, minFaceSize 40', six);
  }
  await compareEmbedders(models, one, args.embedders.split(','));
  if (args['embedders-only']) {
    await releaseFaceModels(models);
    return;
  }
  const calibration = Number(args.calibration);
  if (calibration > 0) {
    await compareMtcnnInt8(models, await decodeImage(one, { maxPixels: 1e8 }), OPTIONS.detect ?? {}, RUNS, calibration);
  }

  const settings = { ...defaultFacePoolSettings(), embedder: args.embedder };
  const pool = await FacePool.start(settings);
  console.log(
    `\nPool saturated (${settings.size} workers × ${settings.intraOpThreads} intra-op thread(s), 2 requests in flight per worker)`,
  );
  await throughput(pool, '640×480, 1 face', one, 200);
  await throughput(pool, '1280×720, 6 faces', six, 100);

  console.log(`\nMemory over ${CALLS} calls through the pool (640×480, 1 face)`);
  const warm = Math.min(500, Math.floor(CALLS / 10));
  let done = 0;
  let rssStart = 0;
  const inFlight = settings.size * 2;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (done < CALLS) {
        done++;
        await pool.analyzeEncoded(one, 1e8, OPTIONS);
        if (done === warm) rssStart = process.memoryUsage().rss;
      }
    }),
  );
  const rssEnd = process.memoryUsage().rss;
  console.log(
    `  RSS after ${warm} warm-up calls ${mb(rssStart)}, after ${CALLS} calls ${mb(rssEnd)}: ` +
      `growth ${(((rssEnd - rssStart) / rssStart) * 100).toFixed(1)}%`,
  );
  console.log(`  peak RSS ${mb(process.resourceUsage().maxRSS * 1024)}`);
  await pool.close();
}

await main();
