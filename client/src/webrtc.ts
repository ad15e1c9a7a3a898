// Publishes the page's webcam to the server over WebRTC, with signalling on the page's one Socket.IO connection
// (server/live/webrtc.ts). Non-trickle: the offer goes once ICE gathering is complete, and the answer carries all of
// the server's candidates. The server makes the webcam a camera of its own and returns its id; its detections
// then come like any camera's (subscribe to that id).
import { getSocket } from './socket.ts';
import type { PublishAck, WebcamEnded } from './wire.ts';

export class WebcamError extends Error {
  constructor(
    /** The server's error code, or 'timeout' / 'connection_failed' from this side. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'WebcamError';
  }
}

export interface SendStats {
  codec: string | undefined;
  width: number | undefined;
  height: number | undefined;
  fps: number | undefined;
  kbps: number | undefined;
}

export interface Publication {
  readonly cameraId: string;
  /** Called once when the webcam ends without stop(): the server ended it, or the connection failed. */
  onEnded(listener: (reason: string) => void): void;
  /** What the browser is sending, from its WebRTC statistics. */
  stats(): Promise<SendStats>;
  /** Ends the webcam on the server and closes the connection. */
  stop(): Promise<void>;
}

const GATHER_TIMEOUT_MS = 3000;
const ANSWER_TIMEOUT_MS = 15_000;

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    // Host candidates take a few ms; whatever is there after the timeout is enough on a LAN.
    const timer = setTimeout(done, GATHER_TIMEOUT_MS);
    pc.addEventListener('icegatheringstatechange', check);
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
  });
}

/** Sends the stream's video track to the server; resolves once the server has answered. */
export async function publishWebcam(stream: MediaStream, name: string): Promise<Publication> {
  const track = stream.getVideoTracks()[0];
  if (!track) throw new WebcamError('no_video', 'the camera gave no video track');
  const socket = getSocket();
  const pc = new RTCPeerConnection();
  try {
    const { sender } = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const offer = pc.localDescription?.sdp;
    if (!offer) throw new WebcamError('connection_failed', 'the browser made no offer');
    let ack: PublishAck;
    try {
      ack = await socket.timeout(ANSWER_TIMEOUT_MS).emitWithAck('webrtc:publish', { sdp: offer, name });
    } catch {
      throw new WebcamError('timeout', 'the server did not answer: is it running and reachable?');
    }
    if ('error' in ack) throw new WebcamError(ack.error, ack.message);
    await pc.setRemoteDescription({ type: 'answer', sdp: ack.sdp });
    // Faces need pixels more than motion: under load, send fewer frames rather than smaller ones.
    const parameters = sender.getParameters();
    parameters.degradationPreference = 'maintain-resolution';
    await sender.setParameters(parameters).catch(() => {});
    return publication(pc, ack.cameraId);
  } catch (err) {
    pc.close();
    throw err;
  }
}

function publication(pc: RTCPeerConnection, cameraId: string): Publication {
  const socket = getSocket();
  const listeners: Array<(reason: string) => void> = [];
  let over = false;
  const finish = (reason: string | undefined) => {
    if (over) return;
    over = true;
    socket.off('webrtc:ended', onServerEnded);
    socket.off('disconnect', onDisconnect);
    pc.removeEventListener('connectionstatechange', onState);
    pc.close();
    if (reason !== undefined) for (const listener of listeners) listener(reason);
  };
  const onServerEnded = (message: WebcamEnded) => {
    if (message.cameraId === cameraId) finish(message.reason);
  };
  const onState = () => {
    if (pc.connectionState === 'failed') finish('the connection to the server failed');
  };
  // The server ends a page's webcam when the page's connection drops, so the webcam is over too.
  const onDisconnect = () => finish('the connection to the server was lost');
  socket.on('webrtc:ended', onServerEnded);
  socket.on('disconnect', onDisconnect);
  pc.addEventListener('connectionstatechange', onState);

  let last: { at: number; bytes: number } | undefined;
  return {
    cameraId,
    onEnded: (listener) => listeners.push(listener),
    async stats() {
      const report = await pc.getStats();
      let out: RTCOutboundRtpStreamStats | undefined;
      report.forEach((s: RTCStats) => {
        if (s.type === 'outbound-rtp' && (s as RTCOutboundRtpStreamStats).kind === 'video') {
          out = s as RTCOutboundRtpStreamStats;
        }
      });
      if (!out) return { codec: undefined, width: undefined, height: undefined, fps: undefined, kbps: undefined };
      const codec = out.codecId ? (report.get(out.codecId) as RTCRtpCodec | undefined)?.mimeType : undefined;
      const bytes = out.bytesSent ?? 0;
      const kbps = last && out.timestamp > last.at ? ((bytes - last.bytes) * 8) / (out.timestamp - last.at) : undefined;
      last = { at: out.timestamp, bytes };
      return {
        codec: codec?.replace(/^video\//i, ''),
        width: out.frameWidth,
        height: out.frameHeight,
        fps: out.framesPerSecond,
        kbps,
      };
    },
    async stop() {
      if (over) return;
      finish(undefined);
      // The server also ends the webcam when the page disconnects; this says so at once.
      if (socket.connected)
        await socket
          .timeout(2000)
          .emitWithAck('webrtc:stop', { cameraId })
          .catch(() => {});
    },
  };
}
