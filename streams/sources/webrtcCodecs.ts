// The video codecs a WebRTC camera may send, as answered to the browser's offer.
import { type RTCRtpCodecParameters, useH264, useNACK, usePLI, useVP8 } from 'werift';
import type { VideoCodec } from './webrtcDepacketizer.ts';

/** The codecs this can depacketise (werift matches them to the offer by MIME type). */
export const CODEC_PARAMETERS: Record<VideoCodec, () => RTCRtpCodecParameters> = {
  vp8: () => useVP8({ rtcpFeedback: FEEDBACK() }),
  h264: () => useH264({ rtcpFeedback: FEEDBACK() }),
};

/**
 * NACK: lost packets are sent again (the depacketiser waits briefly for them); PLI: key frames on request.
 * Not transport-cc or REMB: werift answers transport-cc, but with its feedback Chrome's bandwidth estimate fell from
 * 300 to 100 kbit/s within 12 s on loopback (measured), and werift sends no REMB. Without either, Chrome adapts to
 * loss reports (receiver reports) alone, raising its rate ~8 % a second from the start rate suggested below.
 */
const FEEDBACK = () => [useNACK(), usePLI()];
/** Chrome starts at 300 kbit/s, blurry for faces at 640×480; its x-google-start-bitrate fmtp parameter (kbit/s). */
const START_BITRATE_KBPS = 1000;

/** A negotiated codec as answered: our feedback only (werift copies the offer's), and the start bitrate. */
export function answerable(codec: RTCRtpCodecParameters): RTCRtpCodecParameters {
  const keep = new Set(FEEDBACK().map((f) => `${f.type} ${f.parameter ?? ''}`));
  codec.rtcpFeedback = codec.rtcpFeedback.filter((f) => keep.has(`${f.type} ${f.parameter ?? ''}`));
  codec.parameters = [codec.parameters, `x-google-start-bitrate=${START_BITRATE_KBPS}`].filter(Boolean).join(';');
  return codec;
}

export function codecOf(mimeType: string): VideoCodec | undefined {
  const name = mimeType.toLowerCase();
  if (name === 'video/vp8') return 'vp8';
  if (name === 'video/h264') return 'h264';
  return undefined;
}

/** Negotiated codecs ordered by our preference; H.264 with FU-A (packetization-mode=1) before mode 0. */
export function byPreference(
  codecs: RTCRtpCodecParameters[],
  preference: readonly VideoCodec[],
): RTCRtpCodecParameters[] {
  const rank = (c: RTCRtpCodecParameters) => {
    const codec = codecOf(c.mimeType);
    const base = codec ? preference.indexOf(codec) : -1;
    const mode0 = codec === 'h264' && !/packetization-mode=1/.test(c.parameters ?? '');
    return (base < 0 ? 100 : base * 2) + (mode0 ? 1 : 0);
  };
  return [...codecs].sort((a, b) => rank(a) - rank(b));
}
