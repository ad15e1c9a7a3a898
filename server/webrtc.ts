// WebRTC signalling for browser webcams, over the hub's Socket.IO connection (so the same API-key check applies at
// the handshake). Non-trickle: the page sends an offer with all its candidates and gets back an answer with all of
// the server's. Each publishing page gets a camera of its own in the registry (kind 'webrtc', not persisted), which
// ends with the page: stop, a new publish from the same page, a disconnect, or a failed peer connection.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { CameraView } from '../streams/cameras/cameraTypes.ts';
import type { WebRtcSource, WebRtcSourceOptions } from '../streams/sources/webrtcSource.ts';
import type { FrameSource } from '../streams/types.ts';
import type { Hub } from './hub.ts';

/** `webrtc:publish`: the page's offer; `name` labels the camera on the dashboard. */
export const PublishRequest = z.object({
  // The hub takes messages of up to 64 KB; a browser's video-only offer is a few KB.
  sdp: z.string().min(1).max(60_000),
  name: z.string().trim().max(100).optional(),
});

/** `webrtc:stop`: ends the page's webcam. */
export const StopRequest = z.object({ cameraId: z.string().min(1).max(200) });

export type SignallingError = { error: string; message: string };
export type PublishAck = { cameraId: string; sdp: string } | SignallingError;
export type StopAck = { ok: true } | SignallingError;

/** Sent to the publishing page when the server ends its webcam (connection lost, server shutting down, …). */
export interface WebcamEnded {
  cameraId: string;
  reason: string;
}

/** What signalling needs from the camera registry (streams/cameras/registry.ts). */
export interface WebrtcRegistry {
  addEphemeral(name: string, kind: 'webrtc', source: FrameSource): CameraView;
  removeEphemeral(id: string): Promise<void>;
}

export interface WebrtcOptions {
  io: Hub['io'];
  registry: WebrtcRegistry;
  logger: Logger;
  /** Extra ICE host addresses (default 127.0.0.1, for a browser on this machine). */
  iceHostAddresses?: string[];
  /** Webcams at once, over all pages (default 8). */
  maxSessions?: number;
  /** Passed to each source (tests shorten timeouts). */
  source?: Omit<WebRtcSourceOptions, 'iceHostAddresses' | 'logger'>;
}

export interface WebcamSession {
  cameraId: string;
  socketId: string;
  source: WebRtcSource;
  startedAt: number;
}

export interface Webrtc {
  /** The live webcams (diagnostics, benchmarks). */
  sessions(): WebcamSession[];
  /** Ends every webcam (their cameras are removed) and stops taking new ones. */
  close(): Promise<void>;
}

export function attachWebrtc({
  io,
  registry,
  logger,
  iceHostAddresses = ['127.0.0.1'],
  maxSessions = 8,
  source: sourceOptions = {},
}: WebrtcOptions): Webrtc {
  const log = logger.child({ component: 'webrtc' });
  const sessions = new Map<string, WebcamSession>();
  const ending = new Map<string, Promise<void>>();
  let closing: Promise<void> | undefined;

  const end = (cameraId: string, reason: string, tellPage: boolean): Promise<void> => {
    const session = sessions.get(cameraId);
    if (!session) return ending.get(cameraId) ?? Promise.resolve();
    sessions.delete(cameraId);
    const done = (async () => {
      if (tellPage) io.to(session.socketId).emit('webrtc:ended', { cameraId, reason });
      // Stops the pipeline, which stops the source: the peer connection is closed and ffmpeg has exited.
      await registry.removeEphemeral(cameraId).catch(() => session.source.stop());
      const { codec, width, height, decoded, lostPackets, keyframeRequests } = session.source.stats();
      log.info(
        {
          camera: cameraId,
          reason,
          seconds: Math.round((Date.now() - session.startedAt) / 1000),
          codec,
          width,
          height,
        },
        `webcam ended: ${reason}`,
      );
      log.debug({ camera: cameraId, decoded, lostPackets, keyframeRequests }, 'webcam session stats');
    })().finally(() => ending.delete(cameraId));
    ending.set(cameraId, done);
    return done;
  };

  const endSocket = (socketId: string, reason: string) =>
    Promise.all(
      [...sessions.values()].filter((s) => s.socketId === socketId).map((s) => end(s.cameraId, reason, false)),
    );

  io.on('connection', (socket) => {
    // One request at a time per page: a second publish waits for the first, then replaces its webcam.
    let queue: Promise<unknown> = Promise.resolve();
    const serial = <T>(work: () => Promise<T>) => {
      const next = queue.then(work);
      queue = next.catch(() => {});
      return next;
    };

    socket.on('webrtc:publish', (request, ack) => {
      const reply = (r: PublishAck) => {
        if (typeof ack === 'function') ack(r);
      };
      const parsed = PublishRequest.safeParse(request);
      if (!parsed.success) {
        reply({ error: 'invalid_request', message: 'expected {"sdp": "<SDP offer>", "name"?: "<camera name>"}' });
        return;
      }
      void serial(async () => {
        if (closing) return reply({ error: 'shutting_down', message: 'the server is shutting down' });
        await endSocket(socket.id, 'replaced by a new webcam from the same page');
        if (sessions.size >= maxSessions) {
          return reply({
            error: 'too_many_webcams',
            message: `the server takes at most ${maxSessions} webcams at once; stop one and try again`,
          });
        }
        let answered: { source: WebRtcSource; answer: string };
        // Loaded on the first webcam: werift takes about 0.6 s to import, a third of the server's start-up.
        const { WebRtcError, WebRtcSource } = await import('../streams/sources/webrtcSource.ts');
        try {
          answered = await WebRtcSource.answer(parsed.data.sdp, { ...sourceOptions, iceHostAddresses, logger: log });
        } catch (err) {
          if (err instanceof WebRtcError) return reply({ error: err.code, message: err.message });
          log.error({ err }, 'webcam offer failed');
          return reply({
            error: 'webrtc_failed',
            message: `could not set up the connection: ${(err as Error).message}`,
          });
        }
        // The page may have left while the answer was being made.
        if (!socket.connected || closing) {
          await answered.source.stop();
          return;
        }
        let view: CameraView;
        try {
          view = registry.addEphemeral(parsed.data.name || 'Webcam', 'webrtc', answered.source);
        } catch (err) {
          await answered.source.stop();
          return reply({ error: 'webrtc_failed', message: `could not add the webcam: ${(err as Error).message}` });
        }
        const session: WebcamSession = {
          cameraId: view.id,
          socketId: socket.id,
          source: answered.source,
          startedAt: Date.now(),
        };
        sessions.set(view.id, session);
        void answered.source.ended.then((reason) => end(view.id, reason, true));
        log.info({ camera: view.id, client: socket.id, address: socket.handshake.address }, 'webcam connecting');
        reply({ cameraId: view.id, sdp: answered.answer });
      });
    });

    socket.on('webrtc:stop', (request, ack) => {
      const reply = (r: StopAck) => {
        if (typeof ack === 'function') ack(r);
      };
      const parsed = StopRequest.safeParse(request);
      if (!parsed.success) {
        reply({ error: 'invalid_request', message: 'expected {"cameraId": "<the webcam\'s camera id>"}' });
        return;
      }
      void serial(async () => {
        const session = sessions.get(parsed.data.cameraId);
        if (!session || session.socketId !== socket.id) {
          return reply({ error: 'not_found', message: 'no webcam of this page has that id' });
        }
        await end(session.cameraId, 'stopped by the page', false);
        reply({ ok: true });
      });
    });

    socket.on('disconnect', () => {
      void serial(() => endSocket(socket.id, 'the page disconnected'));
    });
  });

  return {
    sessions: () => [...sessions.values()],
    close() {
      closing ??= (async () => {
        await Promise.all([...sessions.keys()].map((id) => end(id, 'the server is shutting down', true)));
        await Promise.all([...ending.values()]);
      })();
      return closing;
    },
  };
}
