// Everything the server and the CLI run on: one SQLite database (opened once, shared by the modules that
// keep tables in it), one inference pool, one facebank and the cameras (which use all three).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { embeddingKey, Facebank, loadCalibration } from '../facebank/index.ts';
import { modelPath, readManifest } from '../models/manifest.ts';
import { FacePool } from '../models/pool/facePool.ts';
import { CameraRegistry } from '../streams/cameras/registry.ts';
import { EventFaces } from '../streams/eventFaces.ts';
import type { EventReader } from '../streams/events.ts';
import { ClusterNode } from './cluster/node.ts';
import { defaultNodeName } from './cluster/settings.ts';
import { clusterEvents } from './cluster/sharedEvents.ts';
import type { FacebankWrites } from './cluster/sharedFacebank.ts';
import { type Config, ConfigError, cameraDefaults } from './config.ts';

/** What every command needs. */
export interface CoreRuntime {
  db: Database.Database;
  pool: FacePool;
  facebank: Facebank;
  close(): Promise<void>;
}

/** The server's runtime: the core and the cameras. */
export interface Runtime extends CoreRuntime {
  cameras: CameraRegistry;
  /** The events the node reads (the API, the gallery, rejections): its own, or in cluster mode every node's. */
  events: EventReader;
  /** The embeddings of events' face crops ("not this person", the unknown-faces gallery). */
  eventFaces: EventFaces;
  /** Cluster mode (DATABASE_URL): this node's part in the cluster. */
  cluster?: ClusterNode;
  /** Cluster mode: the facebank's writes, which reach every node. */
  sharedFacebank?: FacebankWrites;
}

/** The sha256 of the embedder's weights (a clear error when the models were never built). */
export function modelSha256(embedder: string): string {
  modelPath(embedder);
  return readManifest()!.models[embedder]!.sha256;
}

/** Identifies the embedder's weights, so embeddings of another model are never reused or compared. */
export function modelId(embedder: string): string {
  return `${embedder}@${modelSha256(embedder).slice(0, 16)}`;
}

/**
 * SQLite's page cache, in KiB: SQLite's own default. better-sqlite3 builds SQLite with 16 MB, which this database
 * never needs (it is written far more than read, and read by index) and which fills with pages of event crops that
 * are rarely read again: in the soak it was the server's one growing allocation, 22 MB over the first 16 minutes.
 */
export const PAGE_CACHE_KIB = 2000;

/** The one SQLite database, in WAL mode with every commit synced and a bounded page cache. */
export function openDatabase(path: string): Database.Database {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // A database already in WAL mode opens with synchronous=NORMAL (this build's default), whose commits reach the
  // disk only at the next checkpoint: a power cut could lose events or negatives the API had already answered
  // with. FULL syncs the log at every commit.
  db.pragma('synchronous = FULL');
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  return db;
}

async function startPool(config: Config, logger: Logger, id: string): Promise<FacePool> {
  const pool = await FacePool.start({
    provider: config.executionProvider,
    size: config.poolSize,
    intraOpThreads: config.intraOpThreads,
    maxQueue: config.maxQueue,
    embedder: config.embedder,
    logger,
  });
  const { provider, fallbackReason } = pool.info;
  if (fallbackReason) logger.warn({ provider, reason: fallbackReason }, `inference runs on the CPU: ${fallbackReason}`);
  logger.info(
    { provider, workers: config.poolSize, intraOpThreads: config.intraOpThreads, embedder: id },
    `inference pool ready on ${provider.toUpperCase()}`,
  );
  return pool;
}

async function openFacebank(
  config: Config,
  logger: Logger,
  db: Database.Database,
  pool: FacePool,
  id: string,
): Promise<Facebank> {
  let lastLog = 0;
  let lastDone = -1;
  const facebank = await Facebank.open(
    {
      dir: config.facebankDir,
      db,
      analyzer: pool,
      modelId: id,
      threshold: config.matchThreshold,
      fpir: config.matchFpir,
      calibration: loadCalibration(modelSha256(config.embedder)),
      minQuality: config.minFaceQuality,
      maxPixels: config.maxImagePixels,
      flip: config.flip,
      concurrency: config.poolSize * 2,
      watch: config.watchFacebank,
      logger,
    },
    ({ done, total, cached }) => {
      // The loader reports the start and the end; with nothing to load, both are 0/0: log that once.
      if (done === total ? done !== lastDone : Date.now() - lastLog > 1000) {
        lastLog = Date.now();
        lastDone = done;
        logger.info({ done, total, cached }, `loading facebank: ${done}/${total} images (${cached} from cache)`);
      }
    },
  );
  const fb = facebank.stats();
  logger.info(
    { dir: resolve(config.facebankDir), ...fb },
    `facebank ready: ${fb.people} people, ${fb.templates} face templates`,
  );
  const op = facebank.operatingPoint;
  logger.info({ ...op }, `match threshold ${op.threshold.toFixed(3)}: ${op.reason}`);
  return facebank;
}

/**
 * Opens the database, the pool and the facebank, then the cameras (which start decoding at once); one-off
 * commands pass `{ cameras: false }`, so they never start the cameras a running server is watching.
 */
export function openRuntime(config: Config, logger: Logger): Promise<Runtime>;
export function openRuntime(config: Config, logger: Logger, options: { cameras: false }): Promise<CoreRuntime>;
export async function openRuntime(
  config: Config,
  logger: Logger,
  options: { cameras?: boolean } = {},
): Promise<
  CoreRuntime & {
    cameras?: CameraRegistry;
    events?: EventReader;
    eventFaces?: EventFaces;
    cluster?: ClusterNode;
    sharedFacebank?: FacebankWrites;
  }
> {
  if (options.cameras !== false && config.databaseUrl !== undefined && config.cameras.length > 0) {
    throw new ConfigError(
      'cameras in the config file are not shared out among nodes: with DATABASE_URL, add cameras over the API (POST /api/cameras)',
    );
  }
  const id = modelId(config.embedder);
  const db = openDatabase(config.databasePath);
  let pool: FacePool | undefined;
  let facebank: Facebank | undefined;
  let cluster: ClusterNode | undefined;
  let sharedFacebank: FacebankWrites | undefined;
  try {
    pool = await startPool(config, logger, id);
    facebank = await openFacebank(config, logger, db, pool, id);
    if (options.cameras !== false && config.databaseUrl !== undefined) {
      cluster = await ClusterNode.open(
        {
          databaseUrl: config.databaseUrl,
          nodeName: config.nodeName ?? defaultNodeName(),
          leaseSeconds: config.leaseSeconds,
          motion: config.cameraMotion,
          eventsRetentionDays: config.eventsRetentionDays,
          logger,
        },
        db,
      );
      sharedFacebank = await cluster.shareFacebank(facebank, db);
    }
    const cameras =
      options.cameras === false
        ? undefined
        : await CameraRegistry.open({
            db,
            pool,
            matcher: facebank,
            logger,
            poolSize: config.poolSize,
            defaults: cameraDefaults(config),
            eventsRetentionDays: config.eventsRetentionDays,
            configCameras: config.cameras,
            ...(cluster ? { shared: cluster.catalog } : {}),
          });
    if (cameras) cluster?.start(cameras, db);
    const node = cluster;
    const ready = pool;
    const bank = facebank;
    const events = cameras && (node ? clusterEvents(cameras.events, node.events) : cameras.events);
    const eventFaces =
      events &&
      new EventFaces(
        db,
        events,
        (jpeg) => bank.embedFace(jpeg),
        embeddingKey(id, config.flip),
        node ? { stored: (ids) => node.events.stored(ids) } : {},
      );
    return {
      db,
      pool: ready,
      facebank: bank,
      ...(cameras && events && eventFaces ? { cameras, events, eventFaces } : {}),
      ...(node ? { cluster: node } : {}),
      ...(sharedFacebank ? { sharedFacebank } : {}),
      close: async () => {
        // Cameras first: their frames are in the pool and their names come from the facebank. In a cluster, they
        // are handed over first (stopped, their last events copied, their leases given up).
        await node?.handOver();
        await cameras?.close();
        await node?.close();
        await bank.close();
        await ready.close();
        db.close();
      },
    };
  } catch (err) {
    await cluster?.close();
    await facebank?.close();
    await pool?.close();
    db.close();
    throw err;
  }
}
