// Probe embeddings for the open-set evaluation: each image analysed as POST /rec analyses it (the central face
// kept, LFW photos being centred on their subject), with the face's quality measures (the recognition routes
// judge them after matching), cached in a git-ignored scratch file keyed by the model id and the analysis
// options, so a second run embeds nothing.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { AnalyzeOptions } from '../../models/analyze.ts';
import { centralFace } from '../../models/eval/lfw.ts';
import type { FacePool } from '../../models/pool/facePool.ts';
import type { QualityMeasures } from '../../models/quality.ts';

export interface ProbeSettings {
  minFaceSize: number;
  flip: boolean;
  maxPixels: number;
}

/** How POST /rec analyses an upload (server/routes/recognition.ts), with maxFaces 0 (all faces). */
export function probeOptions(s: ProbeSettings): AnalyzeOptions {
  return { detect: { minFaceSize: s.minFaceSize, maxFaces: 0 }, flip: s.flip, retryPadded: true };
}

const Measures = z
  .object({
    interOcular: z.number(),
    blur: z.number(),
    yaw: z.number(),
    pitch: z.number(),
    roll: z.number(),
    confidence: z.number().nullable(),
  })
  .transform((m): QualityMeasures => ({ ...m, confidence: m.confidence ?? undefined }));

const CacheFile = z.object({
  key: z.string(),
  /** Relative image path → base64 little-endian float32, or null when no face was found. */
  embeddings: z.record(z.string(), z.string().nullable()),
  /** Relative image path → the face's quality measures (absent when no face was found). */
  quality: z.record(z.string(), Measures),
});

/** One probe's central face: its embedding and quality measures. */
export interface ProbeFace {
  embedding: Float32Array;
  quality: QualityMeasures;
}

export function cacheKey(modelId: string, s: ProbeSettings): string {
  return `${modelId};minFaceSize=${s.minFaceSize};flip=${s.flip};maxPixels=${s.maxPixels};quality=1`;
}

const encode = (e: Float32Array) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64');
function decode(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

async function readCache(file: string, key: string): Promise<Map<string, ProbeFace | undefined>> {
  if (!existsSync(file)) return new Map();
  const parsed = CacheFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success || parsed.data.key !== key) return new Map();
  const { embeddings, quality } = parsed.data;
  return new Map(
    Object.entries(embeddings).map(([p, e]) => {
      const q = quality[p];
      return [p, e === null || q === undefined ? undefined : { embedding: decode(e), quality: q }];
    }),
  );
}

async function writeCache(file: string, key: string, m: Map<string, ProbeFace | undefined>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const embeddings = Object.fromEntries([...m].map(([p, f]) => [p, f === undefined ? null : encode(f.embedding)]));
  const quality = Object.fromEntries(
    [...m].flatMap(([p, f]) =>
      f === undefined ? [] : [[p, { ...f.quality, confidence: f.quality.confidence ?? null }]],
    ),
  );
  await writeFile(`${file}.tmp`, JSON.stringify({ key, embeddings, quality }));
  await rename(`${file}.tmp`, file);
}

export interface ProbeEmbeddingRun {
  pool: Pick<FacePool, 'analyzeEncoded'>;
  /** The images' root; `paths` are relative to it. */
  root: string;
  paths: readonly string[];
  modelId: string;
  settings: ProbeSettings;
  /** The scratch file (created if missing; rewritten when the key differs). */
  cacheFile: string;
  /** Images in flight. */
  concurrency: number;
  onProgress?: (done: number, total: number, cached: number) => void;
}

/** Central faces by path (undefined: no face found). */
export async function probeFaces(run: ProbeEmbeddingRun): Promise<Map<string, ProbeFace | undefined>> {
  const key = cacheKey(run.modelId, run.settings);
  const cache = await readCache(run.cacheFile, key);
  const missing = run.paths.filter((p) => !cache.has(p));
  const options = probeOptions(run.settings);
  let done = run.paths.length - missing.length;
  const cached = done;
  run.onProgress?.(done, run.paths.length, cached);
  let next = 0;
  let lastSave = Date.now();
  const worker = async () => {
    while (next < missing.length) {
      const path = missing[next++]!;
      const r = await run.pool.analyzeEncoded(await readFile(join(run.root, path)), run.settings.maxPixels, options);
      const face = centralFace(r.faces, r.width, r.height);
      cache.set(path, face === undefined ? undefined : { embedding: face.embedding, quality: face.quality.measures });
      done++;
      run.onProgress?.(done, run.paths.length, cached);
      // Saved now and then, so an interrupted run keeps most of its work.
      if (Date.now() - lastSave > 30_000) {
        lastSave = Date.now();
        await writeCache(run.cacheFile, key, cache);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, run.concurrency) }, worker));
  if (missing.length > 0) await writeCache(run.cacheFile, key, cache);
  return new Map(run.paths.map((p) => [p, cache.get(p)]));
}
