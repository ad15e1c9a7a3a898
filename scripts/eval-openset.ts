// `npm run eval:openset`: open-set identification on the LFW dev split. See --help.
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { loadCalibration, saveCalibration } from '../facebank/calibration.ts';
import { evaluateOpenSet, measureImpostorTail, type OpenSetSize } from '../facebank/eval/openset.ts';
import { ENROLLED, MIN_IMAGES } from '../facebank/eval/opensetSplit.ts';
import { numberArg } from './args.ts';
import { gallerySizes, loadOpenSetProbes, parseOpenSetCli, scriptConfig } from './opensetProbes.ts';

const HELP = `Usage: npm run eval:openset -- [options]

Open-set identification on the LFW dev split: identities with ≥ ${MIN_IMAGES} images are the gallery (their
first ${ENROLLED} images enrolled through the real facebank, the rest probes); every image of the other
identities is a stranger. For each gallery size it prints DIR (probes named as themselves) and FPIR
(strangers given any name) at the configured operating point (MATCH_FPIR / MATCH_THRESHOLD and the other
settings from the environment or the config file, as the server reads them), and DIR at FPIR 1% and 0.1%
with the threshold the strangers themselves would set (an oracle, to show the curve). Smaller galleries are
seeded samples; the images of the gallery identities left out count as strangers too.

Probe embeddings are cached in .scratch/openset/ (keyed by the model id and the analysis settings) and the
facebank's SQLite cache is kept there too, so a second run takes seconds.

  --dir <path>           the images, <dir>/<Name>/<Name>_NNNN.jpg (default ../shared/testdata/lfw-dev/images)
  --sizes <list>         gallery sizes, comma-separated, "all" for the whole gallery (default 10,100,all)
  --seed <n>             for the smaller galleries (default 1)
  --scratch <path>       working directory (default .scratch/openset)
  --write-calibration    measure the model's impostor tail on this split and save it to
                         facebank/calibrations.json (keyed by the weights' sha256), then evaluate with it
  --json                 print the results as JSON
  -h, --help             this text
`;

const parseCli = () =>
  parseOpenSetCli('eval:openset', HELP, {
    seed: { type: 'string', default: '1' },
    'write-calibration': { type: 'boolean', default: false },
  });

const pc = (x: number) => `${(x * 100).toFixed(2)}%`;

function table(rows: OpenSetSize[]): string {
  const head = ['people', 'probes', 'strangers', 'threshold', 'DIR', 'FPIR', 'DIR@FPIR 1%', 'DIR@FPIR 0.1%', 'rank-1'];
  const body = rows.map((r) => [
    String(r.people),
    String(r.probes),
    String(r.strangers),
    `${r.operatingPoint.threshold.toFixed(3)} (${r.operatingPoint.source})`,
    pc(r.atOperatingPoint.dir),
    `${pc(r.atOperatingPoint.fpir)} (${r.atOperatingPoint.falseNames})`,
    `${pc(r.atFpir1.dir)} @${r.atFpir1.threshold.toFixed(3)}`,
    `${pc(r.atFpir01.dir)} @${r.atFpir01.threshold.toFixed(3)}`,
    pc(r.rank1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const v = parseCli();
  const config = scriptConfig();
  const seed = numberArg('seed', v.seed, { integer: true, allowZero: true });
  const asked = gallerySizes(v.sizes);
  const started = performance.now();
  const { split, root, scratch, modelId, sha256, pool, faces, images } = await loadOpenSetProbes({
    dir: v.dir,
    scratch: v.scratch,
    config,
  });
  const sizes = asked.map((s) => (s === 'all' ? split.gallery.length : s));
  const db = new Database(resolve(scratch, 'facebank.db'));
  try {
    const embeddings = new Map([...faces].map(([p, f]) => [p, f?.embedding]));
    if (v['write-calibration']) {
      const c = measureImpostorTail(split, embeddings, config.embedder);
      saveCalibration(sha256, c);
      console.error(`calibration of ${modelId} written from ${c.samples} impostor scores`);
    }
    const calibration = loadCalibration(sha256);
    if (calibration === undefined) console.error(`no calibration for ${modelId}: the facebank's own scores are used`);
    const results = await evaluateOpenSet({
      split,
      root,
      embeddings,
      quality: { measures: new Map([...faces].map(([p, f]) => [p, f?.quality])) },
      bank: {
        db,
        analyzer: pool,
        modelId,
        fpir: config.matchFpir,
        threshold: config.matchThreshold,
        calibration,
        maxPixels: config.maxImagePixels,
        flip: config.flip,
        minQuality: config.minFaceQuality,
      },
      scratchDir: scratch,
      sizes,
      seed,
      onStage: (m) => console.error(m),
    });
    const seconds = (performance.now() - started) / 1000;
    if (v.json) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
      return;
    }
    const lines = [
      `Open-set identification — ${modelId} on ${pool.info.provider}, flip ${config.flip ? 'on' : 'off'}, ` +
        `${images} images in ${root}`,
      `  gallery      ${split.gallery.length} identities with ≥ ${MIN_IMAGES} images (first ${ENROLLED} enrolled), ` +
        `${split.others.length} others`,
      `  operating    ${
        config.matchThreshold === undefined
          ? `MATCH_FPIR ${config.matchFpir} (threshold derived per gallery size)`
          : `MATCH_THRESHOLD ${config.matchThreshold} (override)`
      }`,
      `  strangers    every image of the ${split.others.length} other identities, plus every image of the gallery ` +
        `identities not enrolled at that size (galleries < ${split.gallery.length}: seeded sample, seed ${seed})`,
      '  DIR          probes named as themselves; FPIR: strangers given any name (count in brackets)',
      '  DIR@FPIR x   with the threshold the strangers themselves set (an oracle: the best possible at that rate)',
      '',
      table(results),
      '',
      ...results.map((r) => `  ${r.people} people: ${r.operatingPoint.reason}`),
      ...results.filter((r) => r.noFace > 0).map((r) => `  ${r.people} people: ${r.noFace} image(s) with no face`),
      ...results
        .filter((r) => r.poor > 0)
        .map(
          (r) =>
            `  ${r.people} people: ${r.poor} face(s) judged poor (MIN_FACE_QUALITY ${config.minFaceQuality}): Unknown`,
        ),
      `  ${seconds.toFixed(1)} s`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await pool.close();
    db.close();
  }
}

await main();
