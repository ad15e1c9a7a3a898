// A TypeScript worker as one plain ESM file, so that a thread starts without tsx. Node 20 runs no .ts by itself,
// and registering tsx inside each thread costs ~0.5 s of CPU per thread (its own loader thread, then every import
// transformed through it), at every server start, test and CLI run. esbuild (tsx's own dependency) bundles our
// modules once per process; packages stay imports, resolved here to absolute URLs, so the file works from the
// temporary folder it is written to. Its name is its content's hash: a changed source gives a new file, never a
// stale one, and concurrent processes agree on it.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin, stop } from 'esbuild';

const CACHE_DIR = join(tmpdir(), `facerec-workers-${process.getuid?.() ?? 'user'}`);
/** Bundles of older sources are removed after this long (a thread needs its file only while it starts). */
const KEEP_OLD_MS = 24 * 3600_000;

/** Packages resolve as they would from our own modules (there is one node_modules). */
const packagesByUrl: Plugin = {
  name: 'packages-by-url',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) =>
      args.path.startsWith('node:')
        ? { path: args.path, external: true }
        : { path: import.meta.resolve(args.path), external: true },
    );
  },
};

/** Each module keeps its own `import.meta.url` (e.g. for createRequire) instead of the bundle's. */
const ownImportMetaUrl: Plugin = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replaceAll(
        'import.meta.url',
        JSON.stringify(pathToFileURL(args.path).href),
      ),
      loader: 'ts',
    }));
  },
};

/** A thread's Node options: source maps on, and none of the parent's (its tsx hooks are not needed). */
export const WORKER_EXEC_ARGV: readonly string[] = ['--enable-source-maps'];

const bundles = new Map<string, Promise<URL>>();
let building = 0;

/** The URL a Worker runs for `workerFile`: a .ts file's bundle (made once per process), or a .js file itself. */
export function workerScript(workerFile: URL): Promise<URL> {
  if (!workerFile.pathname.endsWith('.ts')) return Promise.resolve(workerFile);
  let bundle = bundles.get(workerFile.href);
  if (!bundle) {
    bundle = makeBundle(workerFile);
    bundles.set(workerFile.href, bundle);
    // A failed bundle (e.g. a syntax error being fixed) is tried again by the next pool.
    bundle.catch(() => bundles.delete(workerFile.href));
  }
  return bundle;
}

async function makeBundle(workerFile: URL): Promise<URL> {
  building++;
  const out = await build({
    entryPoints: [fileURLToPath(workerFile)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Read by threads started with WORKER_EXEC_ARGV: stack traces point at the .ts sources, as under tsx.
    sourcemap: 'inline',
    // Where the file goes (its name comes later): the map's paths are relative to it.
    outfile: join(CACHE_DIR, 'bundle.mjs'),
    write: false,
    logLevel: 'silent',
    plugins: [packagesByUrl, ownImportMetaUrl],
  }).finally(() => {
    // esbuild's service is a child process: stopped once idle rather than kept for the server's life (the next
    // build starts it again).
    if (--building === 0) stop();
  });
  const code = out.outputFiles[0]!.contents;
  const base = `${fileURLToPath(workerFile).split('/').pop()!.replace(/\.ts$/, '')}-`;
  const file = join(CACHE_DIR, `${base}${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  mkdirSync(CACHE_DIR, { recursive: true });
  try {
    // Touched on use, so that removeOld (in any process) keeps it.
    utimesSync(file, new Date(), new Date());
  } catch {
    // Written whole under a temporary name, then renamed: another process never imports half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, code);
    renameSync(tmp, file);
  }
  removeOld(base, file);
  return pathToFileURL(file);
}

function removeOld(base: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(CACHE_DIR)) {
    const path = join(CACHE_DIR, name);
    if (path === keep || !name.startsWith(base)) continue;
    try {
      if (now - statSync(path).mtimeMs > KEEP_OLD_MS) rmSync(path, { force: true });
    } catch {
      // Removed by another process meanwhile.
    }
  }
}
