// Everything the server and the CLI run on: one SQLite database (opened once, shared by the modules that
// keep tables in it), one inference pool and one facebank.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { Facebank } from '../facebank/index.ts';
import { modelPath, readManifest } from '../models/manifest.ts';
import { FacePool } from '../models/pool/facePool.ts';
import type { Config } from './config.ts';

export interface Runtime {
  db: Database.Database;
  pool: FacePool;
  facebank: Facebank;
  close(): Promise<void>;
}

/** Identifies the embedder's weights, so cached facebank embeddings from another model are never reused. */
function modelId(embedder: string): string {
  modelPath(embedder); // a clear error when the models were never built
  return `${embedder}@${readManifest()!.models[embedder]!.sha256.slice(0, 16)}`;
}

export async function openRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const id = modelId(config.embedder);
  mkdirSync(dirname(resolve(config.databasePath)), { recursive: true });
  const db = new Database(config.databasePath);
  db.pragma('journal_mode = WAL');

  let pool: FacePool | undefined;
  try {
    pool = await FacePool.start({
      provider: config.executionProvider,
      size: config.poolSize,
      intraOpThreads: config.intraOpThreads,
      maxQueue: config.maxQueue,
      embedder: config.embedder,
      logger,
    });
    const { provider, fallbackReason } = pool.info;
    if (fallbackReason)
      logger.warn({ provider, reason: fallbackReason }, `inference runs on the CPU: ${fallbackReason}`);
    logger.info(
      { provider, workers: config.poolSize, intraOpThreads: config.intraOpThreads, embedder: id },
      `inference pool ready on ${provider.toUpperCase()}`,
    );

    let lastLog = 0;
    const facebank = await Facebank.open(
      {
        dir: config.facebankDir,
        db,
        analyzer: pool,
        modelId: id,
        threshold: config.matchThreshold,
        maxPixels: config.maxImagePixels,
        flip: config.flip,
        concurrency: config.poolSize * 2,
        watch: config.watchFacebank,
        logger,
      },
      ({ done, total, cached }) => {
        if (done === total || Date.now() - lastLog > 1000) {
          lastLog = Date.now();
          logger.info({ done, total, cached }, `loading facebank: ${done}/${total} images (${cached} from cache)`);
        }
      },
    );
    const fb = facebank.stats();
    logger.info(
      { dir: resolve(config.facebankDir), ...fb },
      `facebank ready: ${fb.people} people, ${fb.templates} face templates`,
    );
    const ready = pool;
    return {
      db,
      pool: ready,
      facebank,
      close: async () => {
        await facebank.close();
        await ready.close();
        db.close();
      },
    };
  } catch (err) {
    await pool?.close();
    db.close();
    throw err;
  }
}
