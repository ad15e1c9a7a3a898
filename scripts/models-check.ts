// `npm run models:check`: how close each converted model is to the TFLite reference, how long conversion
// takes, and how fast each model runs (first run, and steady state at the sizes the server uses).
import * as ort from 'onnxruntime-node';
import { CATALOG, type ModelName } from '../models/catalog.ts';
import { readTflite } from '../models/convert/tflite.ts';
import { convertTflite } from '../models/convert/tfliteToOnnx.ts';
import { modelPath } from '../models/manifest.ts';
import { encodeModel } from '../models/onnx/proto.ts';
import { checkModel, loadWeights } from '../test/support/conversionCheck.ts';
import { median } from './stats.ts';

const RUNS = 30;

function input(shape: number[]): Record<string, ort.Tensor> {
  const data = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => Math.random() * 255);
  return { image: new ort.Tensor('float32', data, shape) };
}

async function timeRuns(session: ort.InferenceSession, shape: number[]): Promise<number> {
  const feeds = input(shape);
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  return median(times);
}

// The MTCNN nets take planar images (models/catalog.ts).
const FIRST_RUN_SHAPE: Record<ModelName, number[]> = {
  pnet: [1, 3, 480, 640],
  rnet: [16, 3, 24, 24],
  onet: [4, 3, 48, 48],
  mobilefacenet: [1, 112, 112, 3],
};

async function main(): Promise<void> {
  const weights = await loadWeights();
  console.log('Max |ONNX − reference TFLite interpreter| per output (bar: 1e-4)');
  for (const model of Object.keys(CATALOG) as ModelName[]) {
    for (const r of await checkModel(model, weights.get(model)!)) {
      const diffs = Object.entries(r.maxAbsDiff).map(([o, d]) => `${o} ${d.toExponential(2)}`);
      console.log(`  ${model.padEnd(14)} ${r.label.padEnd(26)} ${diffs.join('  ')}`);
    }
  }

  console.log('\nConversion time (read TFLite + convert + encode; median of 5)');
  for (const model of Object.keys(CATALOG) as ModelName[]) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      encodeModel(
        convertTflite(readTflite(weights.get(model)!), { ...CATALOG[model].convert, graphName: model, docString: '' }),
      );
      times.push(performance.now() - t);
    }
    console.log(`  ${model.padEnd(14)} ${median(times).toFixed(1)} ms`);
  }

  const threads = Number(process.env.INTRA_OP_THREADS ?? 2);
  console.log(`\nInference on the CPU, ${threads} intra-op threads (first run = session load + first call)`);
  const sessions = new Map<ModelName, ort.InferenceSession>();
  for (const model of Object.keys(CATALOG) as ModelName[]) {
    const t = performance.now();
    const session = await ort.InferenceSession.create(modelPath(model), { intraOpNumThreads: threads });
    const loaded = performance.now() - t;
    await session.run(input(FIRST_RUN_SHAPE[model]));
    const first = performance.now() - t;
    sessions.set(model, session);
    console.log(
      `  ${model.padEnd(14)} load ${loaded.toFixed(0)} ms, first run [${FIRST_RUN_SHAPE[model]}] ${first.toFixed(0)} ms`,
    );
  }
  console.log(`\nSteady state (median of ${RUNS} after warm-up)`);
  const steady: [ModelName, number[]][] = [
    ['pnet', [1, 3, 480, 640]],
    ['rnet', [16, 3, 24, 24]],
    ['onet', [4, 3, 48, 48]],
    ['mobilefacenet', [1, 112, 112, 3]],
    ['mobilefacenet', [8, 112, 112, 3]],
  ];
  for (const [model, shape] of steady) {
    const ms = await timeRuns(sessions.get(model)!, shape);
    console.log(`  ${model.padEnd(14)} [${shape}]`.padEnd(40) + `${ms.toFixed(2)} ms`);
  }
  for (const s of sessions.values()) await s.release();
}

await main();
