// How long a camera source waits before it calls its input stalled, retries or kills its decoder, and what a
// browser webcam accepts: written once here. They are not user settings; server/config.ts passes them down
// (cameraDefaults, webcamSourceDefaults) and the sources take them as required options.
import type { VideoCodec } from './webrtcDepacketizer.ts';

export interface DecoderTimings {
  /** No frame for this long while live → 'stalled', and the decoder is restarted. */
  stallMs: number;
  /**
   * A live camera's picture this late (its decoder behind real time: a CPU too busy to decode it) → the decoder
   * is restarted at the live picture, dropping the backlog (RTSP; streams/sources/decodeLag.ts).
   */
  maxLagMs: number;
  /** No first frame this long after (re)starting the decoder → it is restarted. */
  connectTimeoutMs: number;
  /** Delay before the first retry, doubled after each failure up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A run live at least this long resets the backoff. */
  resetBackoffAfterMs: number;
  /** SIGTERM → SIGKILL delay when a decoder is killed. */
  killGraceMs: number;
}

export const DECODER_TIMINGS: Readonly<DecoderTimings> = {
  stallMs: 5000,
  // Tracking and naming need a picture of now; a few seconds late is already useless for them.
  maxLagMs: 3000,
  connectTimeoutMs: 10_000,
  initialBackoffMs: 500,
  // A camera that comes back must be live again within seconds, so retries never wait longer than 2 s;
  // a retry costs one short-lived ffmpeg process.
  maxBackoffMs: 2000,
  resetBackoffAfterMs: 10_000,
  killGraceMs: 2000,
};

export interface WebcamSettings {
  /** Codecs accepted, best first. */
  codecs: readonly VideoCodec[];
  /** The session ends when the connection stays 'disconnected' this long… */
  disconnectGraceMs: number;
  /** …or is not connected this long after the answer. */
  peerConnectTimeoutMs: number;
  /** Longest wait for the server's own ICE candidates before answering with those found. */
  gatherTimeoutMs: number;
}

export const WEBCAM_SETTINGS: Readonly<WebcamSettings> = {
  codecs: ['vp8', 'h264'],
  disconnectGraceMs: 5000,
  peerConnectTimeoutMs: 15_000,
  gatherTimeoutMs: 3000,
};
