// `npm run bench`'s MTCNN float-vs-int8 comparison: P-Net, R-Net and O-Net quantised by facerec's own QDQ
// quantiser (models/quantize/) from activation ranges measured here on LFW dev training photos, then timed against
// the float nets on the same inputs and run on the MTCNN reference photo. Nothing is written: the float nets stay
// the ones built and served unless these figures say otherwise.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { FaceModels } from '../models/analyze.ts';
import { convertCatalogModel } from '../models/build.ts';
import { CATALOG } from '../models/catalog.ts';
import { lfwImageRoot } from '../models/eval/lfw.ts';
import { decodeImage, type RgbImage } from '../models/image.ts';
import { type DetectedFace, type DetectOptions, detectFaces, type MtcnnSessions } from '../models/mtcnn/detector.ts';
import { encodeModel } from '../models/onnx/proto.ts';
import { quantizedTensors, quantizeQdq } from '../models/quantize/qdq.ts';
import { probeModel, RangeCollector, type RangeMethod, rangesOf } from '../models/quantize/ranges.ts';
import { sessionOptions } from '../models/runtime/session.ts';
import { fetchWeights } from '../models/weights.ts';
import { LFW_DEV_DIR, MTCNN_REFERENCE_DIR } from '../test/support/testdata.ts';
import { pairImagesExcept, spread } from './calibrationImages.ts';
import { recordedSession } from './recordedSession.ts';
import { median } from './stats.ts';

const NETS = ['pnet', 'rnet', 'onet'] as const;
type Net = (typeof NETS)[number];
/** The embedder's int8 build uses the same ranges (see models/catalog.ts QUANTIZED). */
const METHOD: RangeMethod = 'p99.99';
/** LFW photos are one face on a small canvas: minFaceSize 20 (the LFW evaluation's) reaches all of P-Net's levels. */
const CALIBRATION_DETECT: Partial<DetectOptions> = { minFaceSize: 20 };

type Feeds = ort.InferenceSession.FeedsType;

/** Sessions that keep every input fed to the three nets, in order. */
function recordingNets(s: MtcnnSessions): { sessions: MtcnnSessions; feeds: Record<Net, Feeds[]> } {
  const feeds: Record<Net, Feeds[]> = { pnet: [], rnet: [], onet: [] };
  const wrap = (net: Net) => recordedSession(s[net], (f) => feeds[net].push(f));
  return { sessions: { ...s, pnet: wrap('pnet'), rnet: wrap('rnet'), onet: wrap('onet') }, feeds };
}

/** `count` images of pairsDevTrain that are not in pairsDevTest, evenly spread over the sorted list. */
function calibrationImages(count: number): string[] {
  const root = lfwImageRoot(LFW_DEV_DIR);
  return spread(pairImagesExcept(LFW_DEV_DIR, 'pairsDevTrain.txt', 'pairsDevTest.txt'), count).map((p) =>
    join(root, p),
  );
}

interface ReferenceCase {
  min_face_size: number;
  max_box_delta_px: number;
}

/** Faces found on the MTCNN reference photo and the largest box error against its reference boxes. */
function referenceError(faces: DetectedFace[], boxes: { x: number; y: number; width: number; height: number }[]) {
  let worst = 0;
  for (const r of boxes) {
    const cx = r.x + r.width / 2;
    const cy = r.y + r.height / 2;
    const d = (f: DetectedFace) => Math.hypot((f.box.x1 + f.box.x2) / 2 - cx, (f.box.y1 + f.box.y2) / 2 - cy);
    const f = faces.reduce((best, g) => (d(g) < d(best) ? g : best));
    worst = Math.max(
      worst,
      Math.abs(f.box.x1 - r.x),
      Math.abs(f.box.y1 - r.y),
      Math.abs(f.box.x2 - r.x - r.width),
      Math.abs(f.box.y2 - r.y - r.height),
    );
  }
  return worst;
}

/**
 * Prints, per net, the time of the float and int8 runs on `photo`'s inputs (interleaved, medians of `runs`), then
 * the reference photo's faces and worst box error with float and with int8 nets.
 */
export async function compareMtcnnInt8(
  models: FaceModels,
  photo: RgbImage,
  options: Partial<DetectOptions>,
  runs: number,
  calibrationCount: number,
): Promise<void> {
  const threads = 1;
  const weights = await fetchWeights(NETS.map((n) => CATALOG[n]));
  const floats = Object.fromEntries(NETS.map((n) => [n, convertCatalogModel(n, weights.get(CATALOG[n].source)!)]));

  // Ranges: every tensor the quantiser would quantise, over the nets' inputs on the calibration photos.
  const calibration = recordingNets(models.mtcnn);
  const images = calibrationImages(calibrationCount);
  for (const path of images) {
    const image = await decodeImage(readFileSync(path), { maxPixels: 4096 * 4096 });
    await detectFaces(calibration.sessions, image, CALIBRATION_DETECT);
  }
  const open = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, sessionOptions('cpu', threads));
  const int8: Partial<Record<Net, ort.InferenceSession>> = {};
  for (const net of NETS) {
    const float = floats[net]!;
    const tensors = quantizedTensors(float);
    const probe = await open(encodeModel(probeModel(float, tensors)));
    const collector = new RangeCollector();
    for (const feeds of calibration.feeds[net]) {
      const out = await probe.run(feeds);
      for (const t of tensors) collector.add(t, out[t]!.data as Float32Array);
    }
    await probe.release();
    int8[net] = await open(encodeModel(quantizeQdq(float, rangesOf(collector.result(), METHOD))));
  }
  const quantised: MtcnnSessions = { ...models.mtcnn, pnet: int8.pnet!, rnet: int8.rnet!, onet: int8.onet! };

  // Speed: the same inputs the bench photo gives each net, float and int8 in alternating order.
  const bench = recordingNets(models.mtcnn);
  await detectFaces(bench.sessions, photo, options);
  console.log(
    `\nMTCNN nets float vs int8 (QDQ, ${METHOD} ranges from ${images.length} LFW dev training photos), ` +
      `${threads} thread, the bench photo's inputs, interleaved runs (medians of ${runs})`,
  );
  for (const net of NETS) {
    const pair = [models.mtcnn[net], quantised[net]] as const;
    const times: [number[], number[]] = [[], []];
    for (let r = 0; r < runs; r++) {
      for (const k of r % 2 === 0 ? [0, 1] : [1, 0]) {
        const t = performance.now();
        for (const feeds of bench.feeds[net]) await pair[k]!.run(feeds);
        times[k]!.push(performance.now() - t);
      }
    }
    const [f, q] = times.map(median) as [number, number];
    console.log(
      `  ${`${net} (${bench.feeds[net].length} run(s))`.padEnd(26)} float ${f.toFixed(2).padStart(6)} ms, ` +
        `int8 ${q.toFixed(2).padStart(6)} ms: ${(f / q).toFixed(2)}× the float speed`,
    );
  }

  const reference = JSON.parse(readFileSync(`${MTCNN_REFERENCE_DIR}expected.json`, 'utf8')) as {
    faces_expected: number;
    boxes_xywh: { x: number; y: number; width: number; height: number }[];
    cases: ReferenceCase[];
  };
  const refPhoto = await decodeImage(readFileSync(`${MTCNN_REFERENCE_DIR}faces.jpg`), { maxPixels: 1e8 });
  for (const c of reference.cases.slice(0, 2)) {
    const detect = { minFaceSize: c.min_face_size };
    const report = async (label: string, s: MtcnnSessions) => {
      const faces = await detectFaces(s, refPhoto, detect);
      const error =
        faces.length > 0 ? `worst box error ${referenceError(faces, reference.boxes_xywh).toFixed(1)} px` : '';
      return `${label} ${faces.length}/${reference.faces_expected} faces ${error}`;
    };
    console.log(
      `  reference photo, minFaceSize ${c.min_face_size} (bar ${c.max_box_delta_px} px): ` +
        `${await report('float', models.mtcnn)}; ${await report('int8', quantised)}`,
    );
  }
  await Promise.all(NETS.map((n) => int8[n]!.release()));
}
