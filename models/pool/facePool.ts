// Face analysis off the event loop: a typed front for the worker pool running faceWorker.ts.
import { availableParallelism } from 'node:os';
import type { AnalyzeOptions } from '../analyze.ts';
import { faceModelFiles } from '../faceModelFiles.ts';
import type { RgbImage } from '../image.ts';
import type { Logger } from '../logger.ts';
import type { ProviderPreference } from '../runtime/session.ts';
import type { FaceRequest, FaceResult, FaceWorkerInfo, FaceWorkerInit } from './faceWorker.ts';
import { type PoolStats, WorkerPool } from './workerPool.ts';

export interface FacePoolSettings {
  provider: ProviderPreference;
  /** Worker threads, each with its own sessions. */
  size: number;
  /** Intra-op threads per session. */
  intraOpThreads: number;
  /** Requests allowed to wait for a free worker before callers get an OverloadError. */
  maxQueue: number;
  embedder: string;
  logger?: Logger;
}

/** One worker per core with one intra-op thread each: on a CPU this gives the best throughput. */
export function defaultFacePoolSettings(cores = availableParallelism()): Omit<FacePoolSettings, 'logger'> {
  return { provider: 'auto', size: Math.max(1, cores), intraOpThreads: 1, maxQueue: 64, embedder: 'mobilefacenet' };
}

export class FacePool {
  private constructor(private readonly pool: WorkerPool<FaceWorkerInit, FaceRequest, FaceResult, FaceWorkerInfo>) {}

  static async start(settings: FacePoolSettings): Promise<FacePool> {
    const pool = await WorkerPool.start<FaceWorkerInit, FaceRequest, FaceResult, FaceWorkerInfo>({
      workerFile: new URL('./faceWorker.ts', import.meta.url),
      size: settings.size,
      maxQueue: settings.maxQueue,
      name: 'face',
      init: {
        provider: settings.provider,
        intraOpThreads: settings.intraOpThreads,
        files: faceModelFiles(settings.embedder),
      },
      ...(settings.logger ? { logger: settings.logger } : {}),
    });
    return new FacePool(pool);
  }

  /** Which provider the workers run on, why CUDA was not used if it was not, and the embedder's shape. */
  get info(): FaceWorkerInfo {
    return this.pool.info;
  }

  /** Decodes (in the worker) and analyses an encoded image. The bytes are copied, never detached. */
  analyzeEncoded(bytes: Uint8Array, maxPixels: number, options: AnalyzeOptions = {}): Promise<FaceResult> {
    // A real copy: Node's Buffer#slice is a view, and transferring it would detach the caller's bytes.
    const own = new Uint8Array(bytes);
    return this.pool.run({ kind: 'encoded', bytes: own, maxPixels, options }, [own.buffer]);
  }

  /** Analyses a raw RGB frame. Its buffer is transferred to the worker: the caller must not reuse it. */
  analyzeFrame(image: RgbImage, options: AnalyzeOptions = {}): Promise<FaceResult> {
    return this.pool.run({ kind: 'raw', image, options }, [image.data.buffer as ArrayBuffer]);
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
