// What the open-set scripts (eval:openset, measure-scores) start from: the server's configuration, the LFW dev
// split, the worker pool and every image's central face, embedded once and cached in the scratch folder.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type OpenSetSplit, readIdentities, splitIdentities } from '../facebank/eval/opensetSplit.ts';
import { type ProbeFace, probeFaces } from '../facebank/eval/probeEmbeddings.ts';
import { FacePool } from '../models/pool/facePool.ts';
import { type Config, ConfigError, loadConfig } from '../server/config.ts';
import { type Progress, progressBar } from '../server/progress.ts';
import { modelId as modelIdOf, modelSha256 } from '../server/runtime.ts';
import { numberArg } from './args.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The options every open-set script takes (each documents them in its --help). */
const COMMON_OPTIONS = {
  dir: { type: 'string', default: '../shared/testdata/lfw-dev/images' },
  sizes: { type: 'string', default: '10,100,all' },
  scratch: { type: 'string', default: '.scratch/openset' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies Options;

/**
 * The command line: the common options and `extra`. A bad one ends the script with exit code 2; --help prints
 * `help` and ends it.
 */
export function parseOpenSetCli<const O extends Options>(script: string, help: string, extra: O) {
  let values: ReturnType<typeof parseArgs<{ options: typeof COMMON_OPTIONS & O; strict: true }>>['values'];
  try {
    values = parseArgs<{ options: typeof COMMON_OPTIONS & O; strict: true }>({
      options: { ...COMMON_OPTIONS, ...extra },
      strict: true,
    }).values;
  } catch (err) {
    console.error(`${script}: ${(err as Error).message}`);
    process.exit(2);
  }
  // The generic `extra` keeps TypeScript from seeing the common options in `values` here (callers do).
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return values;
}

/** --sizes: whole numbers or "all" (the whole gallery, resolved once the split is read). */
export function gallerySizes(list: string): (number | 'all')[] {
  return list.split(',').map((s) => (s.trim() === 'all' ? 'all' : numberArg('sizes', s.trim(), { integer: true })));
}

export interface OpenSetProbes {
  config: Config;
  split: OpenSetSplit;
  /** The dataset's images; the split's paths are relative to it. */
  root: string;
  /** Created if missing. */
  scratch: string;
  /** The facebank's own cache key and weights hash, so the scratch cache and the calibration match the server's. */
  modelId: string;
  sha256: string;
  /** Started here; the caller closes it. */
  pool: FacePool;
  /** Central faces by path (undefined: no face found). */
  faces: Map<string, ProbeFace | undefined>;
  /** Images in the split. */
  images: number;
}

/** The configuration as the server reads it; a bad setting ends the script with its message and exit code 2. */
export function scriptConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

export async function loadOpenSetProbes(o: { dir: string; scratch: string; config: Config }): Promise<OpenSetProbes> {
  const { config } = o;
  const root = resolve(o.dir);
  const split = splitIdentities(readIdentities(root));
  const scratch = resolve(o.scratch);
  mkdirSync(scratch, { recursive: true });
  const sha256 = modelSha256(config.embedder);
  const modelId = modelIdOf(config.embedder);
  const pool = await FacePool.start({
    provider: config.executionProvider,
    size: config.poolSize,
    intraOpThreads: config.intraOpThreads,
    maxQueue: 64,
    embedder: config.embedder,
  });
  try {
    const paths = [...split.gallery, ...split.others].flatMap((i) => i.images);
    let bar: Progress | undefined;
    const faces = await probeFaces({
      pool,
      root,
      paths,
      modelId,
      settings: { minFaceSize: config.minFaceSize, flip: config.flip, maxPixels: config.maxImagePixels },
      cacheFile: resolve(scratch, `probes-flip${config.flip ? 1 : 0}.json`),
      concurrency: 2 * config.poolSize,
      onProgress: (done, total, cached) => {
        if (done === cached && done < total) return;
        bar ??= progressBar('embedding probes', total);
        bar.set(done);
        if (done === total) bar.done();
      },
    });
    return { config, split, root, scratch, modelId, sha256, pool, faces, images: paths.length };
  } catch (err) {
    await pool.close();
    throw err;
  }
}
