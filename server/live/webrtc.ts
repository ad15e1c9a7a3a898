// WebRTC signalling for browser webcams, over the hub's Socket.IO connection (so the same API-key check applies at
// the handshake). Non-trickle: the page sends an offer with all its candidates and gets back an answer with all of
// the server's. Each publishing page gets a camera of its own in the registry (webcams.ts).
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { WebRtcSourceOptions } from '../../streams/sources/webrtcSource.ts';
import { type PublishAck, PublishRequest, type SignallingError, type StopAck, StopRequest } from './protocol.ts';
import { type HubServer, type HubSocket, replier } from './socket.ts';
import { type WebcamSession, Webcams, type WebrtcRegistry } from './webcams.ts';

export type { WebcamSession, WebrtcRegistry } from './webcams.ts';

export interface WebrtcOptions {
  io: HubServer;
  registry: WebrtcRegistry;
  logger: Logger;
  /** Extra ICE host addresses (default 127.0.0.1, for a browser on this machine). */
  iceHostAddresses?: string[];
  /** Webcams at once, over all pages (default 8). */
  maxSessions?: number;
  /** Passed to each source (server/config.ts webcamSourceDefaults). */
  source: Omit<WebRtcSourceOptions, 'iceHostAddresses' | 'logger'>;
}

export interface Webrtc {
  /** The live webcams (diagnostics, benchmarks). */
  sessions(): WebcamSession[];
  /** Ends every webcam (their cameras are removed) and stops taking new ones. */
  close(): Promise<void>;
}

interface Signalling {
  webcams: Webcams;
  log: Logger;
  maxSessions: number;
  sourceOptions: WebRtcSourceOptions;
  closing: () => boolean;
}

/** Answers a page's offer with a new webcam (replacing the page's previous one), or says why not. */
async function publish(s: Signalling, socket: HubSocket, offer: PublishRequest): Promise<PublishAck | undefined> {
  if (s.closing()) return { error: 'shutting_down', message: 'the server is shutting down' };
  await s.webcams.endPage(socket.id, 'replaced by a new webcam from the same page');
  if (s.webcams.size >= s.maxSessions) {
    return {
      error: 'too_many_webcams',
      message: `the server takes at most ${s.maxSessions} webcams at once; stop one and try again`,
    };
  }
  // Loaded on the first webcam: werift takes about 0.6 s to import, a third of the server's start-up.
  const { WebRtcError, WebRtcSource } = await import('../../streams/sources/webrtcSource.ts');
  let answered: Awaited<ReturnType<typeof WebRtcSource.answer>>;
  try {
    answered = await WebRtcSource.answer(offer.sdp, s.sourceOptions);
  } catch (err) {
    if (err instanceof WebRtcError) return { error: err.code, message: err.message };
    s.log.error({ err }, 'webcam offer failed');
    return { error: 'webrtc_failed', message: `could not set up the connection: ${(err as Error).message}` };
  }
  // The page may have left while the answer was being made.
  if (!socket.connected || s.closing()) {
    await answered.source.stop();
    return undefined;
  }
  try {
    const view = await s.webcams.start(socket.id, offer.name || 'Webcam', answered.source);
    s.log.info({ camera: view.id, client: socket.id, address: socket.handshake.address }, 'webcam connecting');
    return { cameraId: view.id, sdp: answered.answer };
  } catch (err) {
    return { error: 'webrtc_failed', message: `could not add the webcam: ${(err as Error).message}` };
  }
}

export function attachWebrtc({
  io,
  registry,
  logger,
  iceHostAddresses = ['127.0.0.1'],
  maxSessions = 8,
  source,
}: WebrtcOptions): Webrtc {
  const log = logger.child({ component: 'webrtc' });
  const webcams = new Webcams(io, registry, log);
  let closing: Promise<void> | undefined;
  const s: Signalling = {
    webcams,
    log,
    maxSessions,
    sourceOptions: { ...source, iceHostAddresses, logger: log },
    closing: () => closing !== undefined,
  };

  io.on('connection', (socket) => {
    // One request at a time per page: a second publish waits for the first, then replaces its webcam.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(work: () => Promise<T>) => {
      const next = queue.then(work);
      queue = next.catch(() => {});
      return next;
    };

    /** A request of `schema`'s shape runs `work` in the page's order; any other is answered with `usage`. */
    const handle =
      <R, A>(schema: z.ZodType<R>, usage: string, work: (request: R, reply: (answer: A) => void) => Promise<void>) =>
      (request: unknown, ack: unknown) => {
        const reply = replier<A | SignallingError>(ack);
        const parsed = schema.safeParse(request);
        if (parsed.success) void serial(() => work(parsed.data, reply));
        else reply({ error: 'invalid_request', message: `expected ${usage}` });
      };

    socket.on(
      'webrtc:publish',
      handle<PublishRequest, PublishAck>(
        PublishRequest,
        '{"sdp": "<SDP offer>", "name"?: "<camera name>"}',
        async (r, reply) => {
          const answer = await publish(s, socket, r);
          if (answer) reply(answer);
        },
      ),
    );

    socket.on(
      'webrtc:stop',
      handle<{ cameraId: string }, StopAck>(
        StopRequest,
        '{"cameraId": "<the webcam\'s camera id>"}',
        async (r, reply) => {
          const session = webcams.of(socket.id, r.cameraId);
          if (!session) return reply({ error: 'not_found', message: 'no webcam of this page has that id' });
          await webcams.end(session.cameraId, 'stopped by the page', false);
          reply({ ok: true });
        },
      ),
    );

    socket.on('disconnect', () => {
      void serial(() => webcams.endPage(socket.id, 'the page disconnected'));
    });
  });

  return {
    sessions: () => webcams.list(),
    close() {
      closing ??= webcams.endAll('the server is shutting down');
      return closing;
    },
  };
}
