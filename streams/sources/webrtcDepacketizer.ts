// RTP video packets from a browser → whole encoded frames that ffmpeg can decode from a pipe: VP8 frames (to be
// written as IVF, helpers below) or H.264 access units in Annex-B form, each ending with an access unit delimiter.
//
// Packets are put back in sequence order first. A missing packet is waited for only briefly (a NACK'd packet comes
// back within a round trip; on a LAN that is a few ms): the frame it belonged to, and every frame after it up to the
// next key frame, cannot be decoded, so they are dropped and the caller is told to ask the sender for a key frame.
// Dropping beats feeding the decoder a broken reference chain, which smears the picture for seconds.

export type VideoCodec = 'vp8' | 'h264';

/** The parts of an RTP packet this needs (werift's RtpPacket: header fields and payload). */
export interface RtpVideoPacket {
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  /** Without RTP padding; empty for padding-only packets (bandwidth probes), which are skipped. */
  payload: Uint8Array;
}

export interface EncodedFrame {
  /** VP8: the frame as sent; H.264: Annex-B NAL units, ending with an access unit delimiter. */
  data: Uint8Array;
  keyframe: boolean;
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  /** VP8 key frames: the coded size. */
  width?: number;
  height?: number;
  /** When the frame's first packet arrived (the caller's clock, ms). */
  firstPacketAt: number;
}

export interface DepacketizerStats {
  frames: number;
  keyframes: number;
  /** Packets given up on (never arrived in time). */
  lostPackets: number;
  /** Frames dropped: incomplete, or after a loss while waiting for a key frame. */
  droppedFrames: number;
}

/** Packets this far behind the expected one mean the sender restarted its sequence (RFC 3550, appendix A.1). */
const MAX_MISORDER = 100;
const START_CODE = Uint8Array.of(0, 0, 0, 1);
/** nal_unit_type 9 (access unit delimiter), primary_pic_type 7 (any slice type): the h264 parser ends the frame here. */
const AUD = Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0);

const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_AUD = 9;
const NAL_STAP_A = 24;
const NAL_FU_A = 28;

/** a − b in sequence-number space (wraps at 2^16): positive when a is after b. */
function seqDiff(a: number, b: number): number {
  return ((a - b + 0x18000) & 0xffff) - 0x8000;
}

interface FrameInProgress {
  timestamp: number;
  firstPacketAt: number;
  parts: Uint8Array[];
  keyframe: boolean;
  width?: number;
  height?: number;
  /** H.264: inside a fragmented NAL unit (FU-A) whose start was seen. */
  inFragment: boolean;
  broken: boolean;
}

/** A missing packet is given up on once this many later packets are held… */
const MAX_HELD_PACKETS = 64;
/** …or once the oldest held packet has waited this long. */
const MAX_WAIT_MS = 40;

export class Depacketizer {
  readonly stats: DepacketizerStats = { frames: 0, keyframes: 0, lostPackets: 0, droppedFrames: 0 };
  private expected: number | undefined;
  /** The frame that was in flight when packets went missing: whatever else of it arrives is useless. */
  private skipTimestamp: number | undefined;
  private readonly held = new Map<number, { packet: RtpVideoPacket; at: number }>();
  private frame: FrameInProgress | undefined;
  /** After a loss (or before the first key frame) nothing is decodable until a key frame. */
  private waitingForKeyframe = true;

  constructor(
    readonly codec: VideoCodec,
    /**
     * Called when a key frame is needed: after a loss, and for every frame dropped while waiting for one (the
     * caller rate-limits its requests; a request or its answer can be lost too).
     */
    private readonly onKeyframeNeeded: () => void = () => {},
  ) {}

  /** Whether frames are being dropped until the next key frame. */
  get needsKeyframe(): boolean {
    return this.waitingForKeyframe;
  }

  /** Drops what is in progress and waits for a key frame (e.g. a new decoder that must start on one). */
  resync(): void {
    this.frame = undefined;
    this.waitingForKeyframe = true;
  }

  /** Frames completed by this packet, in order (usually none or one). */
  push(packet: RtpVideoPacket, now: number): EncodedFrame[] {
    const out: EncodedFrame[] = [];
    const ahead = this.expected === undefined ? 0 : seqDiff(packet.sequenceNumber, this.expected);
    if (ahead < -MAX_MISORDER) {
      // Far behind: the sender started over (RFC 3550's rule); follow it, from its next key frame.
      this.held.clear();
      this.lost();
    } else if (ahead < 0) {
      return out; // a late duplicate, or a retransmission of a packet already given up on
    } else if (ahead > 0) {
      this.held.set(packet.sequenceNumber, { packet, at: now });
      this.giveUpIfWaitedTooLong(now, out);
      return out;
    }
    this.accept(packet, now, out);
    this.drainHeld(out);
    return out;
  }

  private drainHeld(out: EncodedFrame[]): void {
    for (;;) {
      const next = this.held.get(this.expected!);
      if (!next) return;
      this.held.delete(this.expected!);
      this.accept(next.packet, next.at, out);
    }
  }

  private giveUpIfWaitedTooLong(now: number, out: EncodedFrame[]): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const { at } of this.held.values()) oldest = Math.min(oldest, at);
    if (this.held.size <= MAX_HELD_PACKETS && now - oldest < MAX_WAIT_MS) return;
    // Skip to the first packet held: everything before it is lost.
    let first: number | undefined;
    for (const seq of this.held.keys()) {
      if (first === undefined || seqDiff(seq, first) < 0) first = seq;
    }
    this.stats.lostPackets += seqDiff(first!, this.expected!);
    this.expected = first;
    this.lost();
    // The first packet after the gap may be the middle of a frame whose start was lost (H.264 cannot tell).
    this.skipTimestamp = this.held.get(first!)!.packet.timestamp;
    this.drainHeld(out);
  }

  private lost(): void {
    if (this.frame) {
      this.frame = undefined;
      this.stats.droppedFrames++;
    }
    this.waitingForKeyframe = true;
    this.onKeyframeNeeded();
  }

  private accept(packet: RtpVideoPacket, at: number, out: EncodedFrame[]): void {
    this.expected = (packet.sequenceNumber + 1) & 0xffff;
    if (packet.payload.length === 0) return; // padding
    if (this.skipTimestamp !== undefined) {
      if (packet.timestamp === this.skipTimestamp) return;
      this.skipTimestamp = undefined;
    }
    // A new timestamp without the last one's marker: that frame's end never came (a sender quirk, since no
    // sequence number is missing): it is incomplete.
    if (this.frame && this.frame.timestamp !== packet.timestamp) this.lost();
    const ok = this.codec === 'vp8' ? this.vp8(packet, at) : this.h264(packet, at);
    if (!ok) this.markBroken();
    if (packet.marker && this.frame) this.finish(out);
  }

  private begin(timestamp: number, at: number): FrameInProgress {
    this.frame = { timestamp, firstPacketAt: at, parts: [], keyframe: false, inFragment: false, broken: false };
    return this.frame;
  }

  private finish(out: EncodedFrame[]): void {
    const frame = this.frame!;
    this.frame = undefined;
    if (frame.broken || frame.parts.length === 0) {
      this.stats.droppedFrames++;
      this.lost();
      return;
    }
    if (this.waitingForKeyframe) {
      if (!frame.keyframe) {
        this.stats.droppedFrames++;
        this.onKeyframeNeeded();
        return;
      }
      this.waitingForKeyframe = false;
    }
    if (this.codec === 'h264') frame.parts.push(AUD);
    const encoded: EncodedFrame = {
      data: concat(frame.parts),
      keyframe: frame.keyframe,
      timestamp: frame.timestamp,
      firstPacketAt: frame.firstPacketAt,
    };
    if (frame.width !== undefined && frame.height !== undefined) {
      encoded.width = frame.width;
      encoded.height = frame.height;
    }
    this.stats.frames++;
    if (frame.keyframe) this.stats.keyframes++;
    out.push(encoded);
  }

  // RFC 7741: a payload descriptor (1 to 6 bytes), then the VP8 bitstream; S=1 with partition 0 starts a frame.
  // False when the packet is malformed.
  private vp8(packet: RtpVideoPacket, at: number): boolean {
    const p = packet.payload;
    let offset = 1;
    const start = (p[0]! & 0x10) !== 0 && (p[0]! & 0x07) === 0;
    if (p[0]! & 0x80) {
      const ext = p[offset++] ?? 0;
      if (ext & 0x80) offset += (p[offset] ?? 0) & 0x80 ? 2 : 1; // I: PictureID, 7 or 15 bits
      if (ext & 0x40) offset++; // L: TL0PICIDX
      if (ext & 0x30) offset++; // T or K: TID/Y/KEYIDX
    }
    if (offset >= p.length) return false;
    const body = p.subarray(offset);
    let frame = this.frame;
    if (start) {
      if (frame) this.lost(); // a new frame began before the last one ended
      frame = this.begin(packet.timestamp, at);
      // The VP8 frame tag: bit 0 of the first byte is 0 on key frames, which carry their size after a start code.
      frame.keyframe = (body[0]! & 0x01) === 0;
      if (frame.keyframe && body.length >= 10 && body[3] === 0x9d && body[4] === 0x01 && body[5] === 0x2a) {
        frame.width = (body[6]! | (body[7]! << 8)) & 0x3fff;
        frame.height = (body[8]! | (body[9]! << 8)) & 0x3fff;
      }
    } else if (!frame) {
      return true; // the middle of a frame whose start was lost (or came before a resync): skipped
    }
    frame.parts.push(body);
    return true;
  }

  // RFC 6184: single NAL unit packets, STAP-A aggregates (SPS + PPS + IDR, typically) and FU-A fragments.
  // False when the packet is malformed or out of place.
  private h264(packet: RtpVideoPacket, at: number): boolean {
    const p = packet.payload;
    const type = p[0]! & 0x1f;
    const frame = this.frame ?? this.begin(packet.timestamp, at);
    if (type >= 1 && type <= 23) {
      if (frame.inFragment) return false;
      this.nal(frame, p);
      return true;
    }
    if (type === NAL_STAP_A) {
      if (frame.inFragment) return false;
      let offset = 1;
      while (offset + 2 <= p.length) {
        const size = (p[offset]! << 8) | p[offset + 1]!;
        offset += 2;
        if (size === 0 || offset + size > p.length) return false;
        this.nal(frame, p.subarray(offset, offset + size));
        offset += size;
      }
      return true;
    }
    if (type === NAL_FU_A) {
      if (p.length < 3) return false;
      const fuHeader = p[1]!;
      const nalType = fuHeader & 0x1f;
      if (fuHeader & 0x80) {
        if (frame.inFragment) return false;
        frame.inFragment = true;
        if (nalType === NAL_IDR || nalType === NAL_SPS) frame.keyframe = true;
        // The NAL header is rebuilt from the FU indicator's F and NRI bits and the FU header's type.
        frame.parts.push(START_CODE, Uint8Array.of((p[0]! & 0xe0) | nalType));
      } else if (!frame.inFragment) {
        return false;
      }
      frame.parts.push(p.subarray(2));
      if (fuHeader & 0x40) frame.inFragment = false;
      return true;
    }
    // STAP-B, MTAP and FU-B only exist in interleaved mode, which is never negotiated here.
    return false;
  }

  private nal(frame: FrameInProgress, nal: Uint8Array): void {
    const type = nal[0]! & 0x1f;
    if (type === NAL_IDR || type === NAL_SPS) frame.keyframe = true;
    if (type === NAL_AUD) return; // the sender's own delimiters: one is added at the end
    frame.parts.push(START_CODE, nal);
  }

  private markBroken(): void {
    if (this.frame) this.frame.broken = true;
  }
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// IVF: the smallest container ffmpeg reads VP8 from (a 32-byte file header, then a 12-byte header per frame)

/** The IVF file header. The size is a hint (the decoder follows the key frames); the time base is RTP's 90 kHz. */
export function ivfFileHeader(width: number, height: number): Uint8Array {
  const header = new Uint8Array(32);
  const view = new DataView(header.buffer);
  header.set([0x44, 0x4b, 0x49, 0x46]); // "DKIF"
  view.setUint16(4, 0, true); // version
  view.setUint16(6, 32, true); // header size
  header.set([0x56, 0x50, 0x38, 0x30], 8); // "VP80"
  view.setUint16(12, width, true);
  view.setUint16(14, height, true);
  view.setUint32(16, 90_000, true); // time base denominator
  view.setUint32(20, 1, true); // numerator
  view.setUint32(24, 0, true); // frame count: unknown, live
  return header;
}

/** One IVF frame: its 12-byte header (size, 64-bit timestamp) and data, in one buffer. */
export function ivfFrame(frame: EncodedFrame, pts: number): Uint8Array {
  const out = new Uint8Array(12 + frame.data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, frame.data.length, true);
  view.setBigUint64(4, BigInt(Math.max(0, Math.floor(pts))), true);
  out.set(frame.data, 12);
  return out;
}
