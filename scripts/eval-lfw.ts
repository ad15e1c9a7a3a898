// `npm run eval:lfw`: face-verification accuracy on LFW pairs. See --help.
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { releaseFaceModels } from '../models/analyze.ts';
import {
  evaluateLfw,
  LFW_DEFAULT_FLIP,
  type LfwCentralFace,
  type LfwProgress,
  type LfwReport,
  NO_FACE_SCORE,
} from '../models/eval/lfw.ts';
import { loadFaceModels } from '../models/faceModels.ts';
import { defaultFacePoolSettings, FacePool } from '../models/pool/facePool.ts';
import { type Progress, progressBar } from '../server/progress.ts';

const DEFAULT_EMBEDDER = defaultFacePoolSettings().embedder;

const HELP = `Usage: npm run eval:lfw -- --dir <lfw dir> --pairs <pairs file> [--fit <pairs file>] [options]

Face-verification accuracy on LFW. Every image the pairs files name is embedded once (central face,
MTCNN with minFaceSize 20, retried with thresholds 0.5/0.5/0.5 when no face is found), pairs are scored
by cosine similarity, and a pair with a faceless image scores ${NO_FACE_SCORE} (counts as "different").

  --dir <path>     dataset directory: the pairs files, and the images in <dir>/images/<Name>/ or <dir>/<Name>/
  --pairs <file>   pairs to report on (relative to --dir unless absolute)
  --fit <file>     pairs on which to fit the threshold (relative to --dir unless absolute). Without it,
                   a View-2 pairs.txt uses the standard 10-fold protocol; any other file reports the
                   threshold that is best on the pairs themselves (optimistic)
  --no-flip        embed the crop only (default: crop + mirrored crop, ${LFW_DEFAULT_FLIP ? 'on' : 'off'} by default)
  --far <rate>     FAR at which to report TAR (default 0.001)
  --embedder <n>   the embedder by its name in models/build/manifest.json (default ${DEFAULT_EMBEDDER};
                   mobilefacenet-int8 is the int8 build of mobilefacenet). Several, comma-separated, are
                   evaluated one after the other on the faces detected for the first (in this thread only)
  --workers <n>    analyse in n worker threads with 1 intra-op thread each (default 0: in this thread,
                   one image at a time, 2 intra-op threads)
  --json           print the report as JSON on stdout
  -h, --help       this text

Example (View 1, the development split):
  npm run eval:lfw -- --dir ../shared/testdata/lfw-dev --pairs pairsDevTest.txt --fit pairsDevTrain.txt
`;

function fail(message: string): never {
  process.stderr.write(`eval:lfw: ${message}\nRun with --help for usage.\n`);
  process.exit(2);
}

/** Adapts the shared CLI progress bar to the evaluation's (done, total) callback. */
function lfwProgress(): LfwProgress {
  let bar: Progress | undefined;
  return (done, total) => {
    bar ??= progressBar('embedding', total);
    bar.set(done);
    if (done === total) bar.done();
  };
}

const pc = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

function formatReport(r: LfwReport): string {
  const lines: string[] = [];
  const t = r.test;
  lines.push(`LFW verification — ${r.embedder} on ${r.provider}, flip ${r.flip ? 'on' : 'off'}`);
  lines.push(`  test pairs   ${t.file}: ${t.pairs} (${t.same} same, ${t.different} different)`);
  if (r.fit)
    lines.push(`  fit pairs    ${r.fit.file}: ${r.fit.pairs} (${r.fit.same} same, ${r.fit.different} different)`);
  lines.push(
    `  images       ${r.images} embedded in ${r.embedSeconds.toFixed(1)} s (${r.imagesPerSecond.toFixed(1)} img/s)`,
  );
  lines.push(
    `  no face      ${r.noFace.length} image(s)${r.noFace.length ? `: ${r.noFace.join(', ')}` : ''}; ` +
      `${t.pairsWithoutFace} test pair(s)${r.fit ? ` and ${r.fit.pairsWithoutFace} fit pair(s)` : ''} affected (scored ${NO_FACE_SCORE})`,
  );
  lines.push(`  retried      ${r.fallback.length} image(s) found only with the looser thresholds`);
  lines.push('');
  if (r.protocol === 'fitted' && r.threshold?.fit) {
    const th = r.threshold;
    lines.push(`Accuracy on the test pairs, threshold fitted on the fit pairs: ${pc(r.accuracy)}`);
    lines.push(`  threshold    ${num(th.value)} (cosine)`);
    lines.push(`    on fit     accuracy ${pc(th.fit!.accuracy)}, TAR ${pc(th.fit!.tar)}, FAR ${pc(th.fit!.far)}`);
    lines.push(`    on test    accuracy ${pc(th.test.accuracy)}, TAR ${pc(th.test.tar)}, FAR ${pc(th.test.far)}`);
  } else if (r.protocol === 'ten-fold' && r.tenFold) {
    const tf = r.tenFold;
    lines.push(`Accuracy, standard ${tf.foldAccuracies.length}-fold protocol: ${pc(tf.accuracy)} ± ${pc(tf.std)}`);
    lines.push(`  per fold     ${tf.foldAccuracies.map((a) => pc(a, 1)).join(' ')}`);
    lines.push(`  thresholds   ${tf.thresholds.map(num).join(' ')}`);
  } else if (r.threshold) {
    lines.push(
      `Accuracy with the threshold best on the test pairs themselves (no fit file; optimistic): ${pc(r.accuracy)}`,
    );
    lines.push(
      `  threshold    ${num(r.threshold.value)}, TAR ${pc(r.threshold.test.tar)}, FAR ${pc(r.threshold.test.far)}`,
    );
  }
  if (r.protocol === 'fitted' && r.tenFold) {
    lines.push(`  (10-fold on the test pairs, for comparison: ${pc(r.tenFold.accuracy)} ± ${pc(r.tenFold.std)})`);
  }
  lines.push('');
  lines.push('On the test pairs');
  lines.push(
    `  best possible accuracy ${pc(t.best.accuracy)} at threshold ${num(t.best.threshold)} (information only)`,
  );
  lines.push(`  ROC AUC      ${t.auc.toFixed(5)}`);
  const tf = t.tarAtFar;
  lines.push(
    tf.computable
      ? `  TAR@FAR=${tf.far}  ${pc(tf.tar)} (threshold ${num(tf.threshold)})`
      : `  TAR@FAR=${tf.far}  not computable: ${tf.reason}`,
  );
  if (r.fit) {
    const ff = r.fit.tarAtFar;
    lines.push('On the fit pairs');
    lines.push(`  ROC AUC      ${r.fit.auc.toFixed(5)}`);
    lines.push(
      ff.computable
        ? `  TAR@FAR=${ff.far}  ${pc(ff.tar)} (threshold ${num(ff.threshold)})`
        : `  TAR@FAR=${ff.far}  not computable: ${ff.reason}`,
    );
  }
  return lines.join('\n');
}

function parseCli() {
  try {
    return parseArgs({
      options: {
        dir: { type: 'string' },
        pairs: { type: 'string' },
        fit: { type: 'string' },
        flip: { type: 'boolean', default: LFW_DEFAULT_FLIP },
        far: { type: 'string', default: '0.001' },
        embedder: { type: 'string', default: DEFAULT_EMBEDDER },
        workers: { type: 'string', default: '0' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowNegative: true,
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
}

async function main(): Promise<void> {
  const values = parseCli();
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (!values.dir) fail('--dir is required');
  if (!values.pairs) fail('--pairs is required');
  const far = Number(values.far);
  if (!(far > 0 && far <= 1)) fail(`--far must be a rate in (0, 1], got "${values.far}"`);
  const dir = resolve(values.dir);
  const inDir = (f: string) => (isAbsolute(f) ? f : resolve(dir, f));

  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 0) fail(`--workers must be a whole number ≥ 0, got "${values.workers}"`);

  const embedders = values.embedder.split(',');
  if (embedders.length > 1 && workers > 0)
    fail('several embedders are compared in this thread only: leave out --workers');
  // Several embedders are evaluated one after the other on the faces the first run detected.
  const faces = new Map<string, LfwCentralFace>();
  const reports: LfwReport[] = [];
  for (const embedder of embedders) {
    const runner =
      workers > 0
        ? await FacePool.start({ provider: 'auto', size: workers, intraOpThreads: 1, maxQueue: 4 * workers, embedder })
        : await loadFaceModels({ provider: 'auto', intraOpThreads: 2 }, embedder);
    try {
      const fallbackReason = runner instanceof FacePool ? runner.info.fallbackReason : runner.fallbackReason;
      if (fallbackReason && !values.json) process.stderr.write(`running on the CPU: ${fallbackReason}\n`);
      const report = await evaluateLfw({
        runner,
        dir,
        pairsFile: inDir(values.pairs),
        ...(values.fit ? { fitFile: inDir(values.fit) } : {}),
        flip: values.flip,
        far,
        faces,
        onProgress: lfwProgress(),
      });
      reports.push(report);
      if (!values.json) process.stdout.write(`${reports.length > 1 ? '\n' : ''}${formatReport(report)}\n`);
    } finally {
      await (runner instanceof FacePool ? runner.close() : releaseFaceModels(runner));
    }
  }
  if (values.json) process.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
}

await main();
