// A browser's webcam, received over WebRTC with werift: the server answers the browser's offer (non-trickle: the
// answer carries every candidate), puts the video track's RTP back into frames (webrtcDepacketizer.ts) and writes
// them into an ffmpeg decoder's stdin; decoded frames then flow like any camera's. Key frames are asked for (PLI)
// whenever a decoder starts and after a loss. The session ends when the peer connection fails, closes, or stays
// disconnected; `ended` says so, and whoever added the camera removes it.

import {
  type MediaStreamTrack,
  RTCPeerConnection,
  type RTCRtpTransceiver,
  type RtpPacket,
  useOPUS,
  usePCMU,
} from 'werift';
import { CodedError } from '../../models/codedError.ts';
import { percentile } from '../pipeline/stats.ts';
import type { Frame } from '../types.ts';
import { DecoderSource, type DecoderSourceOptions } from './decoderSource.ts';
import type { RawDecoder, RawDecoderOptions } from './rawDecoder.ts';
import type { WebcamSettings } from './sourceDefaults.ts';
import { answerable, byPreference, CODEC_PARAMETERS, codecOf } from './webrtcCodecs.ts';
import {
  Depacketizer,
  type DepacketizerStats,
  type EncodedFrame,
  ivfFileHeader,
  ivfFrame,
  type VideoCodec,
} from './webrtcDepacketizer.ts';

export type { VideoCodec } from './webrtcDepacketizer.ts';

export type WebRtcErrorCode = 'invalid_offer' | 'no_video' | 'unsupported_codec';

export class WebRtcError extends CodedError<WebRtcErrorCode> {
  override name = 'WebRtcError';
}

export interface WebRtcSourceOptions extends DecoderSourceOptions, WebcamSettings {
  /** Host addresses offered as ICE candidates besides the interfaces' own (127.0.0.1: a browser on this machine). */
  iceHostAddresses: string[];
}

export interface WebRtcSourceStats extends DepacketizerStats {
  codec: VideoCodec | undefined;
  width: number | undefined;
  height: number | undefined;
  /** Frames out of the decoder. */
  decoded: number;
  keyframeRequests: number;
  /** Frames not written because the decoder had fallen behind. */
  skippedBehind: number;
  /** A frame's first packet in → its decoded picture out, ms, over the last ~10 s. */
  ingestMs: { p50: number; p95: number };
}

/** Minimum time between key frame requests: the sender needs a moment to encode one. */
const PLI_INTERVAL_MS = 300;
/** More than this waiting in the decoder's stdin: it is behind; skip frames until the next key frame. */
const MAX_PENDING_INPUT_BYTES = 2 * 1024 * 1024;
const INGEST_WINDOW_MS = 10_000;

export class WebRtcSource extends DecoderSource {
  readonly kind = 'webrtc' as const;
  protected readonly label: string;
  /** Why the session ended, once it has (the peer failed, closed, timed out, or stop() was called). */
  readonly ended: Promise<string>;

  private readonly pc: RTCPeerConnection;
  private readonly transceiver: RTCRtpTransceiver;
  private track: MediaStreamTrack | undefined;
  private depacketizer: Depacketizer | undefined;
  private sink: RawDecoder | undefined;
  /** The sink has had its stream header and a key frame. */
  private sinkSynced = false;
  private ptsBase: number | undefined;
  private lastPliAt = Number.NEGATIVE_INFINITY;
  private keyframeRequests = 0;
  private skippedBehind = 0;
  private decoded = 0;
  /** The decoded pictures' size. */
  private size: { width: number; height: number } | undefined;
  /** VP8: the size in the last key frame (for the IVF header). */
  private keyframeSize: { width: number; height: number } | undefined;
  /** firstPacketAt of frames written to the sink, oldest first, matched to decoded frames in order. */
  private inFlight: number[] = [];
  private readonly ingest: Array<{ at: number; ms: number }> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private endSession: (reason: string) => void = () => {};
  private isEnded = false;

  private constructor(pc: RTCPeerConnection, transceiver: RTCRtpTransceiver, options: WebRtcSourceOptions) {
    super(options);
    this.pc = pc;
    this.transceiver = transceiver;
    this.label = `webrtc:${pc.id.slice(0, 8)}`;
    this.ended = new Promise((resolve) => {
      this.endSession = (reason) => {
        if (this.isEnded) return;
        this.isEnded = true;
        for (const timer of this.timers) clearTimeout(timer);
        this.timers.clear();
        resolve(reason);
      };
    });
    this.watchConnection(options.disconnectGraceMs, options.peerConnectTimeoutMs);
    this.on('frame', (frame) => this.frameDecoded(frame));
  }

  /**
   * Answers a browser's offer: the peer connection is set up, the server's candidates gathered, and the answer
   * returned with the source (not started: the camera registry starts it). Throws WebRtcError for an offer that
   * cannot be used.
   */
  static async answer(
    offerSdp: string,
    options: WebRtcSourceOptions,
  ): Promise<{ source: WebRtcSource; answer: string }> {
    const preference = options.codecs;
    const pc = new RTCPeerConnection({
      // Audio is accepted only to be declined (inactive) rather than failing the whole offer.
      codecs: { video: preference.map((codec) => CODEC_PARAMETERS[codec]()), audio: [useOPUS(), usePCMU()] },
      headerExtensions: { video: [], audio: [] },
      // Host candidates only: no STUN server is contacted (the browser reaches the server directly).
      iceServers: [],
      iceAdditionalHostAddresses: options.iceHostAddresses,
    });
    try {
      try {
        await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      } catch (err) {
        const message = (err as Error).message;
        if (/negotiate codecs failed/i.test(message)) {
          throw new WebRtcError(
            'unsupported_codec',
            `the browser offered no video codec the server decodes (it takes ${preference.join(' or ')})`,
          );
        }
        throw new WebRtcError('invalid_offer', `invalid SDP offer: ${message}`);
      }
      const transceivers = pc.getTransceivers();
      const transceiver = transceivers.find((t) => t.kind === 'video');
      if (!transceiver) throw new WebRtcError('no_video', 'the offer has no video track');
      for (const other of transceivers) if (other !== transceiver) other.setDirection('inactive');
      transceiver.setDirection('recvonly');
      transceiver.codecs = byPreference(transceiver.codecs, preference).map(answerable);
      const source = new WebRtcSource(pc, transceiver, options);
      await pc.setLocalDescription(await pc.createAnswer());
      await source.gathered(options.gatherTimeoutMs);
      const answer = pc.localDescription?.sdp;
      if (!answer) throw new WebRtcError('invalid_offer', 'no answer could be made for this offer');
      return { source, answer };
    } catch (err) {
      await pc.close();
      throw err;
    }
  }

  /** The codec the browser sends, once its first packet has come. */
  get codec(): VideoCodec | undefined {
    return this.depacketizer?.codec;
  }

  stats(now = Date.now()): WebRtcSourceStats {
    while (this.ingest.length > 0 && this.ingest[0]!.at <= now - INGEST_WINDOW_MS) this.ingest.shift();
    const sorted = this.ingest.map((s) => s.ms).sort((a, b) => a - b);
    return {
      codec: this.codec,
      width: this.size?.width,
      height: this.size?.height,
      decoded: this.decoded,
      keyframeRequests: this.keyframeRequests,
      skippedBehind: this.skippedBehind,
      ...(this.depacketizer?.stats ?? { frames: 0, keyframes: 0, lostPackets: 0, droppedFrames: 0 }),
      ingestMs: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) },
    };
  }

  override async stop(): Promise<void> {
    this.endSession('stopped');
    // Media stops first, so nothing is written to a decoder on its way out.
    await this.pc.close();
    await super.stop();
  }

  protected decoderOptions(): RawDecoderOptions {
    return {
      input: this.label,
      kind: 'stdin',
      // Until the first packet says otherwise (a restarted decoder knows), the preferred codec.
      stdinFormat: (this.codec ?? this.transceiverCodec()) === 'vp8' ? 'ivf' : 'h264',
      width: this.opts.width,
      fps: this.opts.fps,
      killGraceMs: this.opts.killGraceMs,
      logger: this.logger,
    };
  }

  protected override decoderStarted(decoder: RawDecoder): void {
    this.sink = decoder;
    this.sinkSynced = false;
    this.inFlight = [];
    this.requestKeyframe();
  }

  // --- internals ------------------------------------------------------------------------------------------

  private transceiverCodec(): VideoCodec | undefined {
    const first = this.transceiver.codecs[0];
    return first ? codecOf(first.mimeType) : undefined;
  }

  private gathered(timeoutMs: number): Promise<void> {
    if (this.pc.iceGatheringState === 'complete') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const sub = this.pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') done();
      });
      function done() {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      }
    });
  }

  private watchConnection(graceMs: number, connectTimeoutMs: number): void {
    const later = (ms: number, reason: string) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.endSession(reason);
      }, ms);
      timer.unref();
      this.timers.add(timer);
      return timer;
    };
    const connectTimer = later(
      connectTimeoutMs,
      `could not connect to the browser within ${connectTimeoutMs / 1000} s`,
    );
    let graceTimer: NodeJS.Timeout | undefined;
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(connectTimer);
        this.timers.delete(connectTimer);
        if (graceTimer) {
          clearTimeout(graceTimer);
          this.timers.delete(graceTimer);
          graceTimer = undefined;
        }
      } else if (state === 'disconnected') {
        graceTimer ??= later(graceMs, 'connection to the browser lost');
      } else if (state === 'failed') {
        this.endSession('connection to the browser failed');
      } else if (state === 'closed') {
        this.endSession('the browser closed the connection');
      }
    });
    // The offer names the track's SSRC, so werift usually has the track before this runs; else it comes later.
    const attach = (track: MediaStreamTrack) => {
      if (this.track) return;
      this.track = track;
      track.onReceiveRtp.subscribe((rtp) => this.received(rtp));
    };
    for (const track of this.transceiver.receiver.tracks) attach(track);
    this.transceiver.onTrack.subscribe(attach);
  }

  private received(rtp: RtpPacket): void {
    if (this.isEnded) return;
    const now = Date.now();
    if (!this.depacketizer) {
      const codec = this.payloadCodec(rtp.header.payloadType);
      if (!codec) return;
      this.depacketizer = new Depacketizer(codec, () => this.requestKeyframe());
      this.logger.info({ input: this.label, codec }, 'webcam video arriving');
      // The browser sends the answer's first codec it can encode: the decoder was started for that one. Should it
      // pick another, the decoder is restarted for the codec that came.
      if (this.sink && this.transceiverCodec() !== codec) this.restartDecoder();
    }
    const { header, payload } = rtp;
    const frames = this.depacketizer.push(
      { sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, marker: header.marker, payload },
      now,
    );
    for (const frame of frames) this.write(frame);
  }

  private payloadCodec(payloadType: number): VideoCodec | undefined {
    const codec = this.transceiver.codecs.find((c) => c.payloadType === payloadType);
    return codec ? codecOf(codec.mimeType) : undefined;
  }

  private write(frame: EncodedFrame): void {
    if (frame.width && frame.height) this.keyframeSize = { width: frame.width, height: frame.height };
    const decoder = this.sink;
    if (!decoder || decoder.exited) return; // between decoders: the next one starts on a key frame
    if (decoder.pendingInputBytes > MAX_PENDING_INPUT_BYTES) {
      this.skippedBehind++;
      this.sinkSynced = false;
      this.requestKeyframe();
      return;
    }
    if (!this.sinkSynced) {
      if (!frame.keyframe) {
        this.requestKeyframe();
        return;
      }
      if (this.depacketizer?.codec === 'vp8') {
        decoder.write(ivfFileHeader(this.keyframeSize?.width ?? 640, this.keyframeSize?.height ?? 480));
      }
      this.sinkSynced = true;
      this.ptsBase = frame.timestamp;
    }
    const data =
      this.depacketizer?.codec === 'vp8'
        ? ivfFrame(frame, (frame.timestamp - this.ptsBase! + 2 ** 32) % 2 ** 32)
        : frame.data;
    if (decoder.write(data)) this.inFlight.push(frame.firstPacketAt);
  }

  private frameDecoded({ capturedAt: at, image }: Frame): void {
    this.decoded++;
    this.size = { width: image.width, height: image.height };
    const first = this.inFlight.shift();
    if (first === undefined) return;
    this.ingest.push({ at, ms: at - first });
    if (this.ingest.length > 1000) this.ingest.shift();
  }

  private requestKeyframe(): void {
    const now = Date.now();
    const ssrc = this.track?.ssrc;
    if (ssrc === undefined || now - this.lastPliAt < PLI_INTERVAL_MS || this.isEnded) return;
    this.lastPliAt = now;
    this.keyframeRequests++;
    this.transceiver.receiver.sendRtcpPLI(ssrc).catch((err: unknown) => {
      this.logger.debug({ input: this.label, err: (err as Error).message }, 'key frame request not sent');
    });
  }

  private restartDecoder(): void {
    const sink = this.sink;
    this.sink = undefined;
    // DecoderSource sees the exit and starts a new decoder, whose options now follow the codec that arrived.
    void sink?.kill();
  }
}
