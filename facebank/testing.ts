// Helpers for the facebank's tests: a real FacePool (with a thin call-counting wrapper, not a mock), temporary
// facebank directories seeded from ../shared/testdata, and waiting for 'changed'.
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll } from 'vitest';
import type { AnalyzeOptions } from '../models/analyze.ts';
import { FacePool } from '../models/pool/facePool.ts';
import { DEFAULT_MIN_QUALITY } from '../models/quality.ts';
import { PEOPLE, type Person, personImage } from '../test/support/testdata.ts';
import { analyzeOptions, classifyFaces } from './analysis.ts';
import { type ChangeEvent, Facebank, type FacebankOptions, type LoadProgress } from './facebank.ts';

export const MAX_PIXELS = 40_000_000;
export const THRESHOLD = 0.35;

export interface CountingAnalyzer {
  calls: number;
  analyzeEncoded: FacePool['analyzeEncoded'];
}

/** The real pool for this test file, started in beforeAll and closed in afterAll. */
export function usePool(): { pool: () => FacePool; counting: () => CountingAnalyzer } {
  let pool: FacePool | undefined;
  beforeAll(async () => {
    pool = await FacePool.start({
      provider: 'cpu',
      size: 2,
      intraOpThreads: 1,
      maxQueue: 64,
      embedder: 'mobilefacenet',
    });
  });
  afterAll(() => pool?.close());
  const get = () => {
    if (pool === undefined) throw new Error('the pool is not started');
    return pool;
  };
  return {
    pool: get,
    counting: () => {
      const c: CountingAnalyzer = {
        calls: 0,
        analyzeEncoded: (bytes: Uint8Array, maxPixels: number, options?: AnalyzeOptions) => {
          c.calls++;
          return get().analyzeEncoded(bytes, maxPixels, options);
        },
      };
      return c;
    },
  };
}

/** A fresh temporary directory, removed in afterAll. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), 'facebank-test-'));
    dirs.push(d);
    return d;
  };
}

/** Copies images `ns` of each person into `<dir>/<person>/<person><n>.png`. */
export async function seed(dir: string, ns: readonly number[], people: readonly Person[] = PEOPLE): Promise<void> {
  for (const p of people) {
    await mkdir(join(dir, p), { recursive: true });
    for (const n of ns) await copyFile(personImage(p, n), join(dir, p, `${p}${n}.png`));
  }
}

export function openDb(path: string): Database.Database {
  return new Database(path);
}

export function bankOptions(
  dir: string,
  db: Database.Database,
  analyzer: FacebankOptions['analyzer'],
  o: Partial<FacebankOptions> = {},
): FacebankOptions {
  return {
    dir,
    db,
    analyzer,
    modelId: 'mobilefacenet@test',
    threshold: THRESHOLD,
    fpir: 0.01,
    maxPixels: MAX_PIXELS,
    flip: false,
    minQuality: DEFAULT_MIN_QUALITY,
    concurrency: 2,
    watch: false,
    ...o,
  };
}

export async function openBank(o: FacebankOptions, progress?: LoadProgress[]): Promise<Facebank> {
  return Facebank.open(o, progress === undefined ? undefined : (p) => progress.push(p));
}

/** Resolves with the next 'changed' event, or rejects after `ms`. */
export function nextChange(fb: Facebank, ms = 5000): Promise<ChangeEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      fb.off('changed', on);
      reject(new Error(`no 'changed' event within ${ms} ms`));
    }, ms);
    const on = (e: ChangeEvent) => {
      clearTimeout(timer);
      resolve(e);
    };
    fb.once('changed', on);
  });
}

/** Counts 'changed' events during `ms`. */
export async function changesDuring(fb: Facebank, ms: number): Promise<number> {
  let n = 0;
  const on = () => n++;
  fb.on('changed', on);
  await new Promise((r) => setTimeout(r, ms));
  fb.off('changed', on);
  return n;
}

/** The embedding of the largest face of a test image, analysed like facebank images are (fallback on). */
export async function queryEmbedding(pool: FacePool, path: string, flip = false): Promise<Float32Array> {
  const r = await pool.analyzeEncoded(await readFile(path), MAX_PIXELS, analyzeOptions(flip));
  const a = classifyFaces(r.faces, r.width, r.height);
  if (a.embedding !== undefined) return a.embedding;
  // A query with several faces: take the largest anyway.
  const largest = [...r.faces].sort(
    (x, y) => (y.box.x2 - y.box.x1) * (y.box.y2 - y.box.y1) - (x.box.x2 - x.box.x1) * (x.box.y2 - x.box.y1),
  )[0];
  if (largest === undefined) throw new Error(`no face in ${path}`);
  return largest.embedding;
}
