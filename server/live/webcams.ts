// The live browser webcams: one ephemeral camera per publishing page, and how each one ends (stop, replaced by a
// new publish, page gone, failed peer connection, shutdown): its camera removed, the page told when it did not ask.
import type { Logger } from 'pino';
import type { CameraView } from '../../streams/cameras/cameraTypes.ts';
import type { WebRtcSource } from '../../streams/sources/webrtcSource.ts';
import type { FrameSource } from '../../streams/types.ts';
import type { HubServer } from './socket.ts';

/** What webcams need from the camera registry (streams/cameras/registry.ts). */
export interface WebrtcRegistry {
  addEphemeral(name: string, kind: 'webrtc', source: FrameSource): CameraView;
  removeEphemeral(id: string): Promise<void>;
}

export interface WebcamSession {
  cameraId: string;
  socketId: string;
  source: WebRtcSource;
  startedAt: number;
}

export class Webcams {
  private readonly live = new Map<string, WebcamSession>();
  private readonly ending = new Map<string, Promise<void>>();

  constructor(
    private readonly io: HubServer,
    private readonly registry: WebrtcRegistry,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.live.size;
  }

  list(): WebcamSession[] {
    return [...this.live.values()];
  }

  /** The page's webcam with that camera id, if the page has one. */
  of(socketId: string, cameraId: string): WebcamSession | undefined {
    const session = this.live.get(cameraId);
    return session?.socketId === socketId ? session : undefined;
  }

  /** Adds the answered source as a camera of the page; throws (source stopped) when the registry refuses it. */
  async start(socketId: string, name: string, source: WebRtcSource): Promise<CameraView> {
    let view: CameraView;
    try {
      view = this.registry.addEphemeral(name, 'webrtc', source);
    } catch (err) {
      await source.stop();
      throw err;
    }
    this.live.set(view.id, { cameraId: view.id, socketId, source, startedAt: Date.now() });
    void source.ended.then((reason) => this.end(view.id, reason, true));
    return view;
  }

  end(cameraId: string, reason: string, tellPage: boolean): Promise<void> {
    const session = this.live.get(cameraId);
    if (!session) return this.ending.get(cameraId) ?? Promise.resolve();
    this.live.delete(cameraId);
    const done = this.remove(session, reason, tellPage).finally(() => this.ending.delete(cameraId));
    this.ending.set(cameraId, done);
    return done;
  }

  /** Ends every webcam of a page. */
  endPage(socketId: string, reason: string): Promise<unknown> {
    return Promise.all(
      this.list().flatMap((s) => (s.socketId === socketId ? [this.end(s.cameraId, reason, false)] : [])),
    );
  }

  async endAll(reason: string): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.end(id, reason, true)));
    await Promise.all([...this.ending.values()]);
  }

  private async remove(session: WebcamSession, reason: string, tellPage: boolean): Promise<void> {
    const { cameraId } = session;
    if (tellPage) this.io.to(session.socketId).emit('webrtc:ended', { cameraId, reason });
    // Stops the pipeline, which stops the source: the peer connection is closed and ffmpeg has exited.
    await this.registry.removeEphemeral(cameraId).catch(() => session.source.stop());
    const { codec, width, height, decoded, lostPackets, keyframeRequests } = session.source.stats();
    const seconds = Math.round((Date.now() - session.startedAt) / 1000);
    this.log.info({ camera: cameraId, reason, seconds, codec, width, height }, `webcam ended: ${reason}`);
    this.log.debug({ camera: cameraId, decoded, lostPackets, keyframeRequests }, 'webcam session stats');
  }
}
