// `npm run measure:quality`: the face-quality measures on real photos, and on the same photos degraded on purpose
// (downscaled, blurred, cut, rotated, one side squeezed to fake a turned head), with the share judged ok at the
// limits in models/quality.ts, the reasons that fire, and how much of the face's identity survives (cosine with
// the undegraded face's embedding). The limits were chosen from this output. Also times quality per face.
// Measures are saved with --save; --load reports from saved measures (judged at the current limits) at once.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { analyzeOptions } from '../facebank/analysis.ts';
import type { AnalyzedFace, AnalyzeOptions } from '../models/analyze.ts';
import { centralFace } from '../models/eval/lfw.ts';
import { decodeImage } from '../models/image.ts';
import { FacePool } from '../models/pool/facePool.ts';
import {
  alignedGrey,
  assessQuality,
  faceQuality,
  measureQuality,
  type QualityMeasures,
  qualityMessage,
} from '../models/quality.ts';
import { blur, downscale, squeezeRightOf } from '../test/support/degrade.ts';
import { LFW_DEV_DIR, MTCNN_REFERENCE_DIR, PEOPLE, personImage, SCENES } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { quantile } from './stats.ts';

const HELP = `Usage: npm run measure:quality -- [--sample N] [--save FILE | --load FILE]

Every LFW dev image, the BBT people and scenes and the MTCNN reference photo are analysed through the real
pool (2 workers); every Nth LFW dev image (default 50) and every BBT person photo are also degraded and
analysed again. --save writes the measures to FILE; --load reads them instead of analysing.`;

const { values: args } = parseArgs({
  options: {
    sample: { type: 'string', default: '50' },
    save: { type: 'string' },
    load: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const every = numberArg('sample', args.sample, { integer: true });

interface Measured {
  file: string;
  measures: QualityMeasures;
  /** Cosine with the undegraded face, for degraded photos. */
  cos?: number;
  /** Highest cosine with the undegraded faces of the other people of its set, for degraded photos. */
  impostor?: number;
}
interface Saved {
  lfw: Measured[];
  lfwImages: number;
  bbtPeople: Measured[];
  scenes: Measured[];
  degraded: Record<string, Measured[]>;
  degradedSources: Record<string, number>;
  msPerFace?: { total: number; crop: number; measure: number };
}

const LFW_OPTIONS: AnalyzeOptions = { detect: { minFaceSize: 20 }, retryPadded: true };
const f2 = (v: number) => v.toFixed(2);
const pct = (n: number, d: number) => (d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`);
const cosine = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

async function analyseAll(): Promise<Saved> {
  const pool = await FacePool.start({
    provider: 'cpu',
    size: 2,
    intraOpThreads: 1,
    maxQueue: 10_000,
    embedder: 'mobilefacenet',
  });
  const central = async (bytes: Uint8Array, options: AnalyzeOptions) => {
    const r = await pool.analyzeEncoded(bytes, 1e8, options);
    return centralFace(r.faces, r.width, r.height);
  };
  const lfwRoot = join(LFW_DEV_DIR, 'images');
  const lfwFiles = readdirSync(lfwRoot)
    .sort()
    .flatMap((p) =>
      readdirSync(join(lfwRoot, p))
        .sort()
        .map((f) => join(p, f)),
    );
  const saved: Saved = {
    lfw: [],
    lfwImages: lfwFiles.length,
    bbtPeople: [],
    scenes: [],
    degraded: {},
    degradedSources: {},
  };
  let done = 0;
  await Promise.all(
    lfwFiles.map(async (file) => {
      // Quality needs no embedding.
      const face = await central(readFileSync(join(lfwRoot, file)), { ...LFW_OPTIONS, embed: false });
      if (face) saved.lfw.push({ file, measures: face.quality.measures });
      if (++done % 500 === 0) process.stderr.write(`LFW ${done}/${lfwFiles.length}\n`);
    }),
  );
  const bbt = new Map<string, AnalyzedFace>();
  for (const file of PEOPLE.flatMap((p) => [1, 2, 3, 4, 5].map((n) => personImage(p, n)))) {
    const face = (await pool.analyzeEncoded(readFileSync(file), 1e8, analyzeOptions(false))).faces[0]!;
    bbt.set(file, face);
    saved.bbtPeople.push({ file: file.split('/').pop()!, measures: face.quality.measures });
  }
  for (const file of [...SCENES, `${MTCNN_REFERENCE_DIR}faces.jpg`]) {
    const r = await pool.analyzeEncoded(readFileSync(file), 1e8, { detect: { minFaceSize: 20 }, embed: false });
    for (const f of r.faces) saved.scenes.push({ file: file.split('/').pop()!, measures: f.quality.measures });
  }

  const sample = new Map<string, AnalyzedFace>();
  for (const file of lfwFiles.filter((_, i) => i % every === 0)) {
    const face = await central(readFileSync(join(lfwRoot, file)), LFW_OPTIONS);
    if (face) sample.set(join(lfwRoot, file), face);
  }
  // The person: LFW's folder, or the BBT file name without its number.
  const identity = (file: string) => file.split('/').slice(-2, -1)[0]!;
  const undegraded: Measured[] = [];
  for (const [file, orig] of sample) {
    let impostor = -1;
    for (const [other, o] of sample) {
      if (identity(other) !== identity(file)) impostor = Math.max(impostor, cosine(orig.embedding, o.embedding));
    }
    undegraded.push({ file, measures: orig.quality.measures, cos: 1, impostor });
  }
  saved.degraded[`LFW dev (every ${every}th): undegraded`] = undegraded;
  saved.degradedSources[`LFW dev (every ${every}th): undegraded`] = sample.size;
  type Make = (bytes: Uint8Array, face: AnalyzedFace) => Promise<Buffer>;
  const degradations: [string, Make][] = [
    ...[3, 4, 5].map((k): [string, Make] => [`downscale 1/${k}`, (b) => downscale(b, k)]),
    ...[1.5, 2, 3].map((s): [string, Make] => [`gaussian blur σ=${s} px`, (b) => blur(b, s)]),
    ...[0.4, 0.25].map((k): [string, Make] => [
      `right of the nose squeezed ×${k}`,
      (b, f) => squeezeRightOf(b, f.landmarks[2]![0], k),
    ]),
    [
      'cut below the nose',
      async (b, f) => {
        const { width } = await sharp(b).metadata();
        return sharp(b)
          .extract({ left: 0, top: 0, width, height: Math.round(f.landmarks[2]![1] + 4) })
          .png()
          .toBuffer();
      },
    ],
    ['rotated 45°', (b) => sharp(b).rotate(45, { background: '#808080' }).png().toBuffer()],
    ['mirrored', (b) => sharp(b).flop().png().toBuffer()],
  ];
  for (const [set, sources, options] of [
    [`LFW dev (every ${every}th)`, sample, LFW_OPTIONS],
    ['BBT people', bbt, analyzeOptions(false)],
  ] as const) {
    for (const [name, make] of degradations) {
      const key = `${set}: ${name}`;
      saved.degradedSources[key] = sources.size;
      const out: Measured[] = [];
      await Promise.all(
        [...sources].map(async ([file, orig]) => {
          const face = await central(await make(readFileSync(file), orig), options);
          if (!face) return;
          const cos = face.embedding.length && orig.embedding.length ? cosine(face.embedding, orig.embedding) : 0;
          let impostor = -1;
          for (const [other, o] of sources) {
            if (identity(other) !== identity(file) && o.embedding.length && face.embedding.length)
              impostor = Math.max(impostor, cosine(face.embedding, o.embedding));
          }
          out.push({ file: file.split('/').pop()!, measures: face.quality.measures, cos, impostor });
        }),
      );
      saved.degraded[key] = out;
      process.stderr.write(`${key}: done\n`);
    }
  }

  // Cost per face, in this thread as a worker runs it.
  const timed = await Promise.all(
    [...sample].slice(0, 50).map(async ([file, face]) => ({
      image: { ...(await decodeImage(readFileSync(file), { maxPixels: 1e8 })), channels: 3 },
      face,
    })),
  );
  const time = (fn: () => void) => {
    fn();
    const t = performance.now();
    for (let i = 0; i < 10; i++) fn();
    return (performance.now() - t) / (10 * timed.length);
  };
  const crops = timed.map(({ image, face }) => alignedGrey(image, face.landmarks));
  saved.msPerFace = {
    total: time(() => {
      for (const { image, face } of timed) faceQuality(image, face);
    }),
    crop: time(() => {
      for (const { image, face } of timed) alignedGrey(image, face.landmarks);
    }),
    measure: time(() => {
      for (let k = 0; k < timed.length; k++) assessQuality(measureQuality(timed[k]!.face, crops[k]!));
    }),
  };
  await pool.close();
  return saved;
}

function report(label: string, faces: Measured[], total: number): void {
  const qs = faces.map((f) => assessQuality(f.measures));
  const ok = qs.filter((q) => q.verdict === 'ok').length;
  const reasons = new Map<string, number>();
  for (const q of qs) for (const r of q.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const m = (k: 'interOcular' | 'blur' | 'yaw' | 'pitch', abs = false) =>
    faces.map((f) => (abs ? Math.abs(f.measures[k]) : f.measures[k]));
  const q = (v: number[], p: number) => f2(quantile(v, p));
  const cos = faces.flatMap((f) => (f.cos === undefined ? [] : [f.cos]));
  const imp = faces.flatMap((f) => (f.impostor === undefined ? [] : [f.impostor]));
  const okCos = faces.flatMap((f, i) => (f.cos !== undefined && qs[i]!.verdict === 'ok' ? [f.cos] : []));
  const poorCos = faces.flatMap((f, i) => (f.cos !== undefined && qs[i]!.verdict === 'poor' ? [f.cos] : []));
  console.log(
    `${label.padEnd(48)} ${String(faces.length).padStart(4)}/${String(total).padEnd(4)} ok ${pct(ok, faces.length).padStart(6)}` +
      `  iod p1/p50 ${q(m('interOcular'), 0.01)}/${q(m('interOcular'), 0.5)}` +
      `  blur p50/p99/max ${q(m('blur'), 0.5)}/${q(m('blur'), 0.99)}/${q(m('blur'), 1)}` +
      `  |yaw| p99 ${q(m('yaw', true), 0.99)}  |pitch| p99 ${q(m('pitch', true), 0.99)}` +
      `  reasons: ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ') || '-'}` +
      (cos.length
        ? `  cos p50 ${q(cos, 0.5)} (ok ${okCos.length ? q(okCos, 0.5) : '-'}, poor ${poorCos.length ? q(poorCos, 0.5) : '-'})`
        : '') +
      (imp.length ? `  best impostor p50/p90/max ${q(imp, 0.5)}/${q(imp, 0.9)}/${q(imp, 1)}` : ''),
  );
}

const saved: Saved = args.load ? (JSON.parse(readFileSync(args.load, 'utf8')) as Saved) : await analyseAll();
if (args.save) writeFileSync(args.save, JSON.stringify(saved));

report('LFW dev, central face', saved.lfw, saved.lfwImages);
for (const f of saved.lfw.filter((x) => assessQuality(x.measures).verdict === 'poor')) {
  console.log(`  ${f.file}: ${qualityMessage(assessQuality(f.measures))}`);
}
report('BBT people (as the facebank analyses them)', saved.bbtPeople, saved.bbtPeople.length);
report('BBT scenes + MTCNN reference, every face', saved.scenes, saved.scenes.length);
for (const f of saved.scenes.filter((x) => assessQuality(x.measures).verdict === 'poor')) {
  console.log(`  ${f.file}: ${qualityMessage(assessQuality(f.measures))}`);
}
console.log('\ndegraded on purpose (cos: with the undegraded face; ok/poor: median cos of faces judged so)');
for (const [key, faces] of Object.entries(saved.degraded)) report(key, faces, saved.degradedSources[key]!);
if (saved.msPerFace) {
  const t = saved.msPerFace;
  console.log(
    `\nquality per face (one thread): ${t.total.toFixed(3)} ms = aligned grey crop ${t.crop.toFixed(3)} ms + ` +
      `blur, pose and verdict ${t.measure.toFixed(3)} ms`,
  );
}
