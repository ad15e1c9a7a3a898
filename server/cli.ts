// The `facerec` command line: serve, enrol, recognise, facebank status, LFW evaluation and benchmarks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { recognizeImage } from '../facebank/recognize.ts';
import { forEachLimited } from '../facebank/scan.ts';
import { launchArgs, relaunchWithArgsFile } from './argsFile.ts';
import { openPool } from './cluster/database.ts';
import { importFacebank } from './cluster/facebankImport.ts';
import { migrate } from './cluster/migrations.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { serveUntilSignal } from './main.ts';
import { progressBar } from './progress.ts';
import { type CoreRuntime, openRuntime } from './runtime.ts';
import { boxArray } from './wire.ts';

const HELP: Record<string, string> = {
  main: `Usage: facerec <command> [options]

Commands:
  serve                          run the HTTP server (same as npm start)
  enroll <dir|images...> --name NAME
                                 add images to a person in the facebank
  recognize <image...>           name the faces in images (a table, or --json)
  facebank status                people, images and each image's status
  facebank import <dir>          load people folders into the shared database (cluster mode)
  eval lfw [options]             LFW verification accuracy (see: facerec eval lfw --help)
  bench [options]                face analysis benchmark (see: facerec bench --help)

Configuration comes from the environment (see the README), e.g. FACEBANK_DIR, DATABASE_PATH.
Run 'facerec <command> --help' for a command's options.`,
  serve: `Usage: facerec serve [--host HOST] [--port PORT] [--facebank DIR]

Runs the HTTP server. Options override the HOST, PORT and FACEBANK_DIR environment variables.`,
  enroll: `Usage: facerec enroll <dir|images...> --name NAME [--json]

Adds images to NAME's folder in the facebank (created if needed). A directory adds every image in it.
Each image is analysed first: images with no usable face, or several faces of similar size with none clearly the subject, are refused.`,
  recognize: `Usage: facerec recognize <image...> [--json]

Prints each face found with its name ("Unknown" below the threshold), similarity and box, in the order
the images were given. A directory adds every image in it. An image that cannot be read is reported as an
error for that image; the others are still answered, and the exit code is 1.`,
  facebank: `Usage: facerec facebank status [--json]
       facerec facebank import <dir> [--json]

status: lists the people in the facebank with their images and each image's status.
import: loads people folders (<dir>/<person>/<image>, laid out as FACEBANK_DIR) into the PostgreSQL database
  of DATABASE_URL, in one transaction, so that every node of the cluster enrols them (within seconds, while
  running). Photos the database already has for that person are left as they are. Photos are not analysed
  here: a node that finds no usable face in one logs a warning and leaves it out.`,
};

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.webp']);

function imageFiles(paths: string[]): string[] {
  return paths.flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()) && !f.startsWith('.'))
          .sort()
          .map((f) => join(p, f))
      : [p],
  );
}

/** A runtime for one-off commands: quiet logs and no folder watcher. */
async function withRuntime<T>(config: Config, work: (r: CoreRuntime) => Promise<T>): Promise<T> {
  const runtime = await openRuntime({ ...config, watchFacebank: false }, pino({ level: 'warn' }, pino.destination(2)), {
    cameras: false,
  });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
}

async function enroll(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { name: { type: 'string' }, json: { type: 'boolean' } },
  });
  if (!values.name || positionals.length === 0) throw new UsageError('enroll needs images and --name', 'enroll');
  const files = imageFiles(positionals);
  const results = await withRuntime(config, async ({ facebank }) => {
    const bar = progressBar(`enrolling ${values.name}`, files.length);
    const out: { file: string; status: string; message?: string }[] = [];
    for (const file of files) {
      try {
        const image = await facebank.addImage(values.name!, readFileSync(file), basename(file));
        out.push({ file, status: image.status, ...(image.message ? { message: image.message } : {}) });
      } catch (err) {
        const e = err as { code?: string; message: string };
        out.push({ file, status: e.code ?? 'error', message: e.message });
      }
      bar.tick();
    }
    bar.done();
    return out;
  });
  if (values.json) console.log(JSON.stringify(results, null, 2));
  else console.log(table([['image', 'status', 'note'], ...results.map((r) => [r.file, r.status, r.message ?? ''])]));
  if (results.every((r) => r.status !== 'embedded' && r.status !== 'crop_fallback')) process.exitCode = 1;
}

interface RecognizedFile {
  file: string;
  faces: {
    name: string;
    similarity: number;
    margin: number;
    box: number[];
    quality: { score: number; verdict: string; reasons: string[] };
    unknownReason?: string;
  }[];
  /** Why this image could not be read (the others are still answered). */
  error?: string;
}

async function recognize(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length === 0) throw new UsageError('recognize needs at least one image', 'recognize');
  const files = imageFiles(positionals);
  const results = await withRuntime(config, async ({ pool, facebank }) => {
    const bar = files.length > 1 ? progressBar('recognising', files.length) : undefined;
    const out: RecognizedFile[] = new Array(files.length);
    const order = files.map((file, i) => ({ file, i }));
    // Two images per worker in flight keep every worker busy while the next file is read; the pool's queue
    // limit is far above that.
    await forEachLimited(order, 2 * config.poolSize, async ({ file, i }) => {
      try {
        const r = await recognizeImage(
          pool,
          facebank,
          readFileSync(file),
          config.maxImagePixels,
          {
            detect: { minFaceSize: config.minFaceSize, maxFaces: config.maxFaces },
            flip: config.flip,
            retryPadded: true,
          },
          config.minFaceQuality,
        );
        out[i] = {
          file,
          faces: r.faces.map((f) => ({
            name: f.match.name,
            similarity: f.match.score,
            margin: f.match.margin,
            box: boxArray(f.box).map(Math.round),
            quality: { score: f.quality.score, verdict: f.quality.verdict, reasons: f.quality.reasons },
            ...(f.unknownReason ? { unknownReason: f.unknownReason } : {}),
          })),
        };
      } catch (err) {
        out[i] = { file, faces: [], error: (err as Error).message };
      }
      bar?.tick();
    });
    bar?.done();
    return out;
  });
  if (results.some((r) => r.error !== undefined)) process.exitCode = 1;
  if (values.json) {
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  const rows = results.flatMap((r) =>
    r.error !== undefined
      ? [[r.file, '-', 'error', '', r.error]]
      : r.faces.length === 0
        ? [[r.file, '-', 'no face', '', '']]
        : r.faces.map((f, i) => [r.file, String(i + 1), f.name, f.similarity.toFixed(3), f.box.join(',')]),
  );
  console.log(table([['image', 'face', 'name', 'similarity', 'box x1,y1,x2,y2'], ...rows]));
}

async function facebankImport(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const dir = positionals[1];
  if (dir === undefined || positionals.length > 2)
    throw new UsageError('facebank import needs one directory', 'facebank');
  if (config.databaseUrl === undefined) {
    throw new ConfigError('facebank import loads the shared database of a cluster: set DATABASE_URL');
  }
  const pool = openPool(config.databaseUrl, pino({ level: 'warn' }, pino.destination(2)));
  try {
    await migrate(pool);
    const result = await importFacebank(pool, dir);
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(
        `${dir}: ${result.added} photos added, ${result.present} already there, of ${result.people} people` +
          (result.skipped.length > 0 ? `; skipped: ${result.skipped.join(', ')}` : ''),
      );
    }
  } finally {
    await pool.end();
  }
}

async function facebankStatus(args: string[], config: Config): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals[0] === 'import') return facebankImport(args, config);
  if (positionals[0] !== 'status') throw new UsageError('unknown facebank command', 'facebank');
  const people = await withRuntime(config, async ({ facebank }) => ({
    stats: facebank.stats(),
    people: facebank.people(),
  }));
  if (values.json) {
    console.log(JSON.stringify(people, null, 2));
    return;
  }
  console.log(
    `${config.facebankDir}: ${people.stats.people} people, ${people.stats.images} images, ${people.stats.templates} face templates`,
  );
  const rows = people.people.flatMap((p) => p.images.map((img) => [p.name, img.file, img.status, img.message ?? '']));
  if (rows.length > 0) console.log(table([['person', 'image', 'status', 'note'], ...rows]));
}

class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(message);
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main);
    return;
  }
  if (rest.includes('--help') && HELP[command]) {
    console.log(HELP[command]);
    return;
  }
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: { host: { type: 'string' }, port: { type: 'string' }, facebank: { type: 'string' } },
      });
      return serveUntilSignal({
        ...(values.host ? { host: values.host } : {}),
        ...(values.port ? { port: values.port } : {}),
        ...(values.facebank ? { facebankDir: values.facebank } : {}),
      });
    }
    case 'enroll':
      return enroll(rest, loadConfig());
    case 'recognize':
      return recognize(rest, loadConfig());
    case 'facebank':
      return facebankStatus(rest, loadConfig());
    case 'eval': {
      if (rest[0] !== 'lfw') throw new UsageError('usage: facerec eval lfw [options]', 'main');
      process.argv = [process.argv[0]!, 'eval-lfw', ...rest.slice(1)];
      await import('../scripts/eval-lfw.ts');
      return;
    }
    case 'bench':
      process.argv = [process.argv[0]!, 'bench', ...rest];
      await import('../scripts/bench.ts');
      return;
    default:
      throw new UsageError(`unknown command '${command}'`, 'main');
  }
}

const launch = launchArgs(process.argv.slice(2));
const run = launch.relaunch
  ? relaunchWithArgsFile(launch.args).then((code) => {
      process.exitCode = code;
    })
  : main(launch.args);
run.catch((err: Error) => {
  if (err instanceof UsageError) {
    console.error(`facerec: ${err.message}\n\n${HELP[err.command] ?? HELP.main}`);
    process.exit(2);
  }
  const known =
    err instanceof ConfigError ||
    ['ModelsMissingError', 'FacebankError', 'ImageDecodeError', 'StorageError'].includes(err.name);
  console.error(`facerec: ${known ? err.message : (err.stack ?? err.message)}`);
  process.exit(1);
});
