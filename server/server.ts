// The HTTP server over the runtime (database, inference pool, facebank), and its shutdown.
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { type Config, webcamSourceDefaults } from './config.ts';
import { Integrations } from './integrations/index.ts';
import { attachHub, type Hub } from './live/hub.ts';
import { RedisLink } from './live/redisLink.ts';
import { attachWebrtc, type Webrtc } from './live/webrtc.ts';
import { createLogger } from './logFormat.ts';
import { Metrics } from './metrics.ts';
import { recognizerFor } from './recognizer.ts';
import { openRuntime, type Runtime } from './runtime.ts';

export interface RunningServer {
  url: string;
  runtime: Runtime;
  hub: Hub;
  integrations: Integrations;
  webrtc: Webrtc;
  close(): Promise<void>;
}

export async function startServer(config: Config, logger: Logger = createLogger(config)): Promise<RunningServer> {
  const runtime = await openRuntime(config, logger);
  const { pool, facebank, cameras, events, eventFaces, cluster } = runtime;
  const metrics = new Metrics({
    queueDepth: () => pool.stats().queued,
    busyWorkers: () => pool.stats().busy,
    facebankTemplates: () => facebank.stats().templates,
    eventsDropped: () => cameras.events.drops.stats().byProblem,
    motionFrames: () => cameras.motionFrames(),
    ...(cluster ? { cluster: () => cluster.counts() } : {}),
  });
  const integrations = new Integrations(config, { cameras, facebank }, recognizerFor(config, pool, facebank), logger);
  // REDIS_URL: the hub shares its messages with the other nodes' hubs (connects in the background).
  const redis = config.redisUrl === undefined ? undefined : new RedisLink(config.redisUrl, logger);
  const live = { health: () => redis?.health() ?? { enabled: false as const } };
  const app = createApp({
    config,
    pool,
    facebank,
    cameras,
    events,
    eventFaces,
    metrics,
    integrations,
    live,
    logger,
    ...(cluster ? { cluster } : {}),
    ...(runtime.sharedFacebank ? { sharedFacebank: runtime.sharedFacebank } : {}),
  });
  let server: ServerType;
  try {
    server = await new Promise<ServerType>((ok, fail) => {
      const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, () => ok(s));
      s.once('error', fail);
    });
  } catch (err) {
    await runtime.close();
    throw err;
  }
  redis?.start();
  // Socket.IO on the same server and port: live detections, previews, events and health.
  const hub = attachHub({ server, registry: cameras, apiKey: config.apiKey, logger, redis });
  // Browser webcams: signalling on the hub's connections, one ephemeral camera per publishing page.
  const webrtc = attachWebrtc({ io: hub.io, registry: cameras, logger, source: webcamSourceDefaults() });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url }, `facerec listening on ${url}`);

  let closing: Promise<void> | undefined;
  const running: RunningServer = {
    url,
    runtime,
    hub,
    integrations,
    webrtc,
    close: () => {
      closing ??= (async () => {
        // In a cluster, other nodes take the cameras over before anything else closes here.
        await runtime.cluster?.handOver();
        // Integrations first: they leave "nobody in view" and "offline" behind while the broker is still there.
        await integrations.close();
        // Webcams next, while their pages can still be told.
        await webrtc.close();
        // The hub disconnects its clients (open WebSockets would hold server.close() forever) and closes the server.
        await hub.close();
        redis?.close();
        await new Promise<void>((ok) => server.close(() => ok()));
        await runtime.close();
      })();
      return closing;
    },
  };
  try {
    integrations.start(url);
  } catch (err) {
    // E.g. an MQTT TLS file that cannot be read: the server does not stay half-started.
    await running.close();
    throw err;
  }
  return running;
}
