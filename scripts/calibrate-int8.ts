// `npm run models:calibrate`: measures the activation ranges an int8 model is built from (see --help).
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { releaseFaceModels } from '../models/analyze.ts';
import { convertCatalogModel } from '../models/build.ts';
import { CATALOG, QUANTIZED, type QuantizedName } from '../models/catalog.ts';
import { alignedCrops } from '../models/embedder.ts';
import { centralFace, LFW_DETECT_OPTIONS, lfwImageRoot } from '../models/eval/lfw.ts';
import { loadFaceModels } from '../models/faceModels.ts';
import { sha256 } from '../models/files.ts';
import { decodeImage } from '../models/image.ts';
import { detectFaces } from '../models/mtcnn/detector.ts';
import { encodeModel } from '../models/onnx/proto.ts';
import { quantizedTensors, quantizeQdq } from '../models/quantize/qdq.ts';
import {
  PERCENTILES,
  probeModel,
  RangeCollector,
  type RangeFile,
  type RangeMethod,
  rangesOf,
} from '../models/quantize/ranges.ts';
import { fetchWeights } from '../models/weights.ts';
import { progressBar } from '../server/progress.ts';
import { pairImagesExcept, spread } from './calibrationImages.ts';
import { quantile } from './stats.ts';

const HELP = `Usage: npm run models:calibrate [-- options]

Runs the float embedder (the graph the int8 model is quantised from: see QUANTIZED in models/catalog.ts)
over aligned face crops (each with its mirror image) from the LFW development
training pairs, records the range of every tensor the int8 model quantises (min/max and percentiles),
and writes models/quantize/<ranges file>, which \`npm run models:build\` derives the int8 model from.
Images that also appear in the test pairs are never used.

  --dir <path>     LFW dev directory (default ../shared/testdata/lfw-dev)
  --pairs <file>   pairs whose images are used (default pairsDevTrain.txt)
  --exclude <file> pairs whose images are never used (default pairsDevTest.txt)
  --images <n>     images to use, evenly spread over the sorted list (default 500)
  --holdout <n>    other images of those pairs on which to compare int8 with float embeddings for each way
                   of picking the ranges (min/max, percentiles; default 200, 0 to skip)
  --model <name>   the int8 model to calibrate (default mobilefacenet-int8; ${Object.keys(QUANTIZED).join(', ')})
  -h, --help       this text`;

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/testdata/lfw-dev' },
    pairs: { type: 'string', default: 'pairsDevTrain.txt' },
    exclude: { type: 'string', default: 'pairsDevTest.txt' },
    images: { type: 'string', default: '500' },
    holdout: { type: 'string', default: '200' },
    model: { type: 'string', default: 'mobilefacenet-int8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const entry = QUANTIZED[values.model as QuantizedName];
if (!entry) throw new Error(`--model must be one of ${Object.keys(QUANTIZED).join(', ')}`);
if (entry.from !== 'mobilefacenet') throw new Error(`${values.model}: only the embedder's calibration is written yet`);
const wanted = Number(values.images);
if (!Number.isInteger(wanted) || wanted < 1) throw new Error('--images must be a whole number ≥ 1');

const dir = resolve(values.dir);
const root = lfwImageRoot(dir);
const all = pairImagesExcept(dir, values.pairs, values.exclude);
const chosen = spread(all, wanted);
const calibrated = new Set(chosen);
const holdout = spread(
  all.filter((p) => !calibrated.has(p)),
  Number(values.holdout),
);

// The graph the int8 model is quantised from (see QuantizedEntry.prelu), which may differ from the served float one.
const source = CATALOG[entry.from];
const float = convertCatalogModel(entry.from, (await fetchWeights([source])).get(source.source)!, entry.prelu);
const floatSha256 = sha256(encodeModel(float));
const tensors = quantizedTensors(float, entry.options);
const models = await loadFaceModels({ provider: 'cpu', intraOpThreads: 2 });
const size = models.embedderShape.size;
const PER = size * size * 3;

/** The aligned crop of each image's central face (then its mirror image, with `flip`), 8 faces a batch. */
async function* faceCrops(paths: string[], label: string, flip: boolean): AsyncGenerator<Float32Array> {
  const bar = progressBar(label, paths.length);
  let batch: Float32Array[] = [];
  const joined = () => {
    const data = new Float32Array(batch.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of batch) {
      data.set(c, at);
      at += c.length;
    }
    batch = [];
    return data;
  };
  for (const [i, path] of paths.entries()) {
    const image = await decodeImage(readFileSync(join(root, path)), { maxPixels: 4096 * 4096 });
    const face = centralFace(await detectFaces(models.mtcnn, image, LFW_DETECT_OPTIONS), image.width, image.height);
    if (face) batch.push(alignedCrops(image, size, [face.landmarks], flip));
    if (batch.length === 8) yield joined();
    bar.set(i + 1);
  }
  if (batch.length > 0) yield joined();
  bar.done();
}

async function runOn(session: ort.InferenceSession, data: Float32Array): Promise<ort.InferenceSession.ReturnType> {
  return session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [data.length / PER, size, size, 3]) });
}

const probe = await ort.InferenceSession.create(encodeModel(probeModel(float, tensors)), { intraOpNumThreads: 2 });
const collector = new RangeCollector();
let crops = 0;
for await (const data of faceCrops(chosen, 'calibrating', true)) {
  const out = await runOn(probe, data);
  for (const t of tensors) collector.add(t, out[t]!.data as Float32Array);
  crops += data.length / PER;
}
await probe.release();

const round = (x: number) => Number(x.toPrecision(6));
const stats = collector.result();
const file: RangeFile = {
  model: entry.from,
  sha256: floatSha256,
  source:
    `${crops} aligned crops (${crops / 2} faces and their mirror images) from ${chosen.length} images of ` +
    `LFW dev ${values.pairs}, none in ${values.exclude}`,
  samples: crops,
  tensors: Object.fromEntries(
    tensors.map((t) => {
      const s = stats[t]!;
      const percentiles = Object.fromEntries(
        Object.entries(s.percentiles).map(([p, [lo, hi]]): [string, [number, number]] => [p, [round(lo), round(hi)]]),
      );
      return [t, { min: round(s.min), max: round(s.max), percentiles }];
    }),
  ),
};
const out = new URL(`../models/quantize/${entry.ranges}`, import.meta.url);
// Number pairs on one line, as the formatter (biome) writes them.
const json = JSON.stringify(file, null, 2).replace(/\[\s+([-\d.e+]+),\s+([-\d.e+]+)\s+\]/g, '[$1, $2]');
writeFileSync(out, `${json}\n`);
console.log(`${values.model}: ${tensors.length} tensor ranges from ${crops} crops → models/quantize/${entry.ranges}`);

// How close each way of picking the ranges keeps the embeddings, on other training images.
if (holdout.length > 0) {
  const methods: RangeMethod[] = ['minmax', ...PERCENTILES.map((p): RangeMethod => `p${p}`)];
  const sessions = [await ort.InferenceSession.create(encodeModel(float), { intraOpNumThreads: 2 })];
  for (const m of methods) {
    const int8 = quantizeQdq(float, rangesOf(file.tensors, m), entry.options);
    sessions.push(await ort.InferenceSession.create(encodeModel(int8), { intraOpNumThreads: 2 }));
  }
  const cosines: number[][] = methods.map(() => []);
  for await (const data of faceCrops(holdout, 'checking', false)) {
    const outs = [];
    for (const s of sessions) outs.push(unitRows((await runOn(s, data))[s.outputNames[0]!]!));
    const [reference, ...quantized] = outs;
    for (const [k, q] of quantized.entries()) {
      for (const [i, e] of q.entries()) cosines[k]!.push(e.reduce((sum, v, j) => sum + v * reference![i]![j]!, 0));
    }
  }
  console.log(`\nCosine of int8 and float embeddings on ${cosines[0]!.length} faces of other ${values.pairs} images`);
  console.log(`  ${'ranges'.padEnd(10)} ${'mean'.padStart(8)} ${'1st pct'.padStart(8)} ${'min'.padStart(8)}`);
  for (const [k, m] of methods.entries()) {
    const c = cosines[k]!;
    const f = (x: number) => x.toFixed(4).padStart(8);
    console.log(
      `  ${m.padEnd(10)} ${f(c.reduce((a, b) => a + b, 0) / c.length)} ${f(quantile(c, 0.01))} ${f(Math.min(...c))}`,
    );
  }
  await Promise.all(sessions.map((s) => s.release()));
}
await releaseFaceModels(models);

function unitRows(t: ort.Tensor): Float32Array[] {
  const [n, dim] = t.dims as [number, number];
  return Array.from({ length: n }, (_, i) => {
    const e = (t.data as Float32Array).slice(i * dim, (i + 1) * dim);
    const norm = Math.hypot(...e);
    return e.map((v) => v / norm);
  });
}
