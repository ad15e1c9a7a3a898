// Probe embeddings for the open-set evaluation: each image analysed as POST /rec analyses it (the central face
// kept, LFW photos being centred on their subject), cached in a git-ignored scratch file keyed by the model id
// and the analysis options, so a second run embeds nothing.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { AnalyzeOptions } from '../../models/analyze.ts';
import { centralFace } from '../../models/eval/lfw.ts';
import type { FacePool } from '../../models/pool/facePool.ts';

export interface ProbeSettings {
  minFaceSize: number;
  flip: boolean;
  maxPixels: number;
}

/** How POST /rec analyses an upload (server/routes/recognition.ts), with maxFaces 0 (all faces). */
export function probeOptions(s: ProbeSettings): AnalyzeOptions {
  return { detect: { minFaceSize: s.minFaceSize, maxFaces: 0 }, flip: s.flip, retryPadded: true };
}

const CacheFile = z.object({
  key: z.string(),
  /** Relative image path → base64 little-endian float32, or null when no face was found. */
  embeddings: z.record(z.string(), z.string().nullable()),
});

export function cacheKey(modelId: string, s: ProbeSettings): string {
  return `${modelId};minFaceSize=${s.minFaceSize};flip=${s.flip};maxPixels=${s.maxPixels}`;
}

const encode = (e: Float32Array) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64');
function decode(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

async function readCache(file: string, key: string): Promise<Map<string, Float32Array | undefined>> {
  if (!existsSync(file)) return new Map();
  const parsed = CacheFile.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success || parsed.data.key !== key) return new Map();
  return new Map(Object.entries(parsed.data.embeddings).map(([p, e]) => [p, e === null ? undefined : decode(e)]));
}

async function writeCache(file: string, key: string, m: Map<string, Float32Array | undefined>): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const embeddings = Object.fromEntries([...m].map(([p, e]) => [p, e === undefined ? null : encode(e)]));
  await writeFile(`${file}.tmp`, JSON.stringify({ key, embeddings }));
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

/** Embeddings by path (undefined: no face found). */
export async function probeEmbeddings(run: ProbeEmbeddingRun): Promise<Map<string, Float32Array | undefined>> {
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
      cache.set(path, face?.embedding);
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
