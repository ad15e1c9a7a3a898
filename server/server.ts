// The HTTP server over the runtime (database, inference pool, facebank), and its shutdown.
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import pino, { type Logger } from 'pino';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { attachHub, type Hub } from './live/hub.ts';
import { attachWebrtc, type Webrtc } from './live/webrtc.ts';
import { Metrics } from './metrics.ts';
import { openRuntime, type Runtime } from './runtime.ts';

export interface RunningServer {
  url: string;
  runtime: Runtime;
  hub: Hub;
  webrtc: Webrtc;
  close(): Promise<void>;
}

export async function startServer(
  config: Config,
  logger: Logger = pino({ level: config.logLevel }),
): Promise<RunningServer> {
  const runtime = await openRuntime(config, logger);
  const { pool, facebank, cameras, eventFaces } = runtime;
  const metrics = new Metrics({
    queueDepth: () => pool.stats().queued,
    busyWorkers: () => pool.stats().busy,
    facebankTemplates: () => facebank.stats().templates,
    eventsDropped: () => cameras.events.drops.stats().byProblem,
    motionFrames: () => cameras.motionFrames(),
  });
  const app = createApp({ config, pool, facebank, cameras, eventFaces, metrics, logger });
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
  // Socket.IO on the same server and port: live detections, previews, events and health.
  const hub = attachHub({ server, registry: cameras, apiKey: config.apiKey, logger });
  // Browser webcams: signalling on the hub's connections, one ephemeral camera per publishing page.
  const webrtc = attachWebrtc({ io: hub.io, registry: cameras, logger });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url }, `facerec listening on ${url}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    runtime,
    hub,
    webrtc,
    close: () => {
      closing ??= (async () => {
        // Webcams first, while their pages can still be told.
        await webrtc.close();
        // The hub disconnects its clients (open WebSockets would hold server.close() forever) and closes the server.
        await hub.close();
        await new Promise<void>((ok) => server.close(() => ok()));
        await runtime.close();
      })();
      return closing;
    },
  };
}
