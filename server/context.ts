// What the HTTP layer needs from the rest of the server, handed to every route module.
import type { Logger } from 'pino';
import type { Facebank } from '../facebank/index.ts';
import type { FacePool } from '../models/pool/facePool.ts';
import type { CameraRegistry } from '../streams/cameras/registry.ts';
import type { EventFaces } from '../streams/eventFaces.ts';
import type { EventReader } from '../streams/events.ts';
import type { FacebankWrites } from './cluster/sharedFacebank.ts';
import type { ClusterHealth } from './cluster/status.ts';
import type { Config } from './config.ts';
import type { Integrations } from './integrations/index.ts';
import type { RedisHealth } from './live/redisLink.ts';
import type { Metrics } from './metrics.ts';

export interface AppDeps {
  config: Config;
  pool: FacePool;
  facebank: Facebank;
  cameras: CameraRegistry;
  /** The events the API reads: the node's own, or in cluster mode every node's (from the shared database). */
  events: EventReader;
  eventFaces: EventFaces;
  /** Cluster mode: the facebank's writes (photos, people, negatives) go through the shared database, so they reach every node. */
  sharedFacebank?: FacebankWrites;
  /** Cluster mode: the nodes and the cameras' leases, for /api/health. */
  cluster?: { status(): Promise<ClusterHealth> };
  metrics: Metrics;
  integrations: Pick<Integrations, 'health'>;
  /** The link to the other nodes' hubs (REDIS_URL). */
  live: { health(): RedisHealth };
  logger: Logger;
}
