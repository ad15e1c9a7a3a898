// The depacketiser on real encoder output: ffmpeg encodes a test pattern with libvpx and libx264, the frames are
// cut into RTP packets the way browsers send them (RFC 7741 descriptors with a 15-bit PictureID; RFC 6184 STAP-A
// and FU-A), and what comes out must be the frames that went in, in a form a stdin-fed ffmpeg decodes frame by
// frame. Reordering, loss, padding, sequence wrap and a sender restart are played on top.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from './ffmpegProcesses.ts';
import { spawnRawDecoder } from './rawDecoder.ts';
import { DECODER_TIMINGS } from './sourceDefaults.ts';
import { Depacketizer, type EncodedFrame, ivfFileHeader, ivfFrame, type RtpVideoPacket } from './webrtcDepacketizer.ts';

const MTU = 1000;
const FRAMES = 30;

interface SourceFrame {
  data: Uint8Array;
  keyframe: boolean;
}

/** Frames of an IVF file. */
function ivfFrames(file: Uint8Array): SourceFrame[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const frames: SourceFrame[] = [];
  for (let at = view.getUint16(6, true); at + 12 <= file.length; ) {
    const size = view.getUint32(at, true);
    const data = file.subarray(at + 12, at + 12 + size);
    frames.push({ data, keyframe: (data[0]! & 1) === 0 });
    at += 12 + size;
  }
  return frames;
}

/** Access units of an Annex-B stream written with AUDs (x264 aud=1): each a list of NAL units, without start codes. */
function accessUnits(stream: Uint8Array): Uint8Array[][] {
  const starts: Array<{ at: number; length: number }> = [];
  for (let i = 0; i + 3 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0) {
      if (stream[i + 2] === 1) starts.push({ at: i, length: 3 });
      else if (stream[i + 2] === 0 && stream[i + 3] === 1) starts.push({ at: i++, length: 4 });
    }
  }
  const units: Uint8Array[][] = [];
  for (let k = 0; k < starts.length; k++) {
    const nal = stream.subarray(starts[k]!.at + starts[k]!.length, starts[k + 1]?.at ?? stream.length);
    if ((nal[0]! & 0x1f) === 9) units.push([]);
    else units.at(-1)?.push(nal);
  }
  return units;
}

/** RTP packets of VP8 frames: X=1, I=1 with a 15-bit PictureID, S=1 on each frame's first packet. */
function vp8Packets(frames: readonly SourceFrame[], firstSeq: number): RtpVideoPacket[] {
  const packets: RtpVideoPacket[] = [];
  let seq = firstSeq;
  frames.forEach((frame, index) => {
    for (let at = 0; at < frame.data.length; at += MTU) {
      const chunk = frame.data.subarray(at, at + MTU);
      const descriptor = [0x80 | (at === 0 ? 0x10 : 0), 0x80, 0x80 | ((index >> 8) & 0x7f), index & 0xff];
      packets.push({
        sequenceNumber: seq++ & 0xffff,
        timestamp: index * 3000,
        marker: at + MTU >= frame.data.length,
        payload: Uint8Array.from([...descriptor, ...chunk]),
      });
    }
  });
  return packets;
}

/** RTP packets of H.264 access units: small NAL units aggregated (STAP-A), large ones fragmented (FU-A). */
function h264Packets(units: readonly Uint8Array[][], firstSeq: number): RtpVideoPacket[] {
  const packets: RtpVideoPacket[] = [];
  let seq = firstSeq;
  units.forEach((nals, index) => {
    const payloads: Uint8Array[] = [];
    let stap: number[] = [];
    const flush = () => {
      if (stap.length > 0) payloads.push(Uint8Array.from([0x18, ...stap]));
      stap = [];
    };
    for (const nal of nals) {
      if (nal.length + 2 + stap.length < MTU) {
        stap.push(nal.length >> 8, nal.length & 0xff, ...nal);
        continue;
      }
      flush();
      const body = nal.subarray(1);
      for (let at = 0; at < body.length; at += MTU) {
        const start = at === 0 ? 0x80 : 0;
        const end = at + MTU >= body.length ? 0x40 : 0;
        payloads.push(
          Uint8Array.from([(nal[0]! & 0xe0) | 28, start | end | (nal[0]! & 0x1f), ...body.subarray(at, at + MTU)]),
        );
      }
    }
    flush();
    payloads.forEach((payload, k) => {
      packets.push({
        sequenceNumber: seq++ & 0xffff,
        timestamp: index * 3000,
        marker: k === payloads.length - 1,
        payload,
      });
    });
  });
  return packets;
}

function depacketize(
  codec: 'vp8' | 'h264',
  packets: readonly RtpVideoPacket[],
  onKeyframeNeeded: () => void = () => {},
): { frames: EncodedFrame[]; depacketizer: Depacketizer } {
  const depacketizer = new Depacketizer(codec, onKeyframeNeeded);
  const frames: EncodedFrame[] = [];
  packets.forEach((packet, i) => {
    frames.push(...depacketizer.push(packet, i));
  });
  return { frames, depacketizer };
}

/** How many pictures a stdin-fed ffmpeg decodes from this input, waiting for each to come out (no end of input). */
async function decodedCount(format: 'ivf' | 'h264', chunks: readonly Uint8Array[], expected: number): Promise<number> {
  const decoder = spawnRawDecoder({
    input: 'test',
    kind: 'stdin',
    stdinFormat: format,
    killGraceMs: DECODER_TIMINGS.killGraceMs,
  });
  let count = 0;
  decoder.on('frame', () => count++);
  for (const chunk of chunks) decoder.write(chunk);
  const deadline = Date.now() + 10_000;
  while (count < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await decoder.kill();
  return count;
}

describe('WebRTC depacketiser (real VP8 and H.264 from ffmpeg)', () => {
  let dir = '';
  let vp8: SourceFrame[] = [];
  let h264: Uint8Array[][] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-depacketizer-'));
    const source = ['-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=15`, '-frames:v', String(FRAMES)];
    // Key frames at 0, 10 and 20 exactly.
    const gop = ['-g', '10', '-keyint_min', '10'];
    await runFfmpeg([...source, '-c:v', 'libvpx', ...gop, '-b:v', '400k', path.join(dir, 'a.ivf')]);
    await runFfmpeg([
      ...source,
      '-c:v',
      'libx264',
      '-bf',
      '0',
      ...gop,
      '-x264-params',
      'aud=1:scenecut=0',
      '-f',
      'h264',
      path.join(dir, 'a.264'),
    ]);
    vp8 = ivfFrames(new Uint8Array(await readFile(path.join(dir, 'a.ivf'))));
    h264 = accessUnits(new Uint8Array(await readFile(path.join(dir, 'a.264'))));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('VP8: frames come out as they went in, across a sequence wrap, and decode as IVF one by one', async () => {
    expect(vp8).toHaveLength(FRAMES);
    const { frames } = depacketize('vp8', vp8Packets(vp8, 65_500));
    expect(frames.map((f) => Buffer.from(f.data))).toEqual(vp8.map((f) => Buffer.from(f.data)));
    expect(frames.map((f) => f.keyframe)).toEqual(vp8.map((f) => f.keyframe));
    expect(frames[0]).toMatchObject({ keyframe: true, width: 320, height: 240 });
    const ivf = [ivfFileHeader(320, 240), ...frames.map((f, i) => ivfFrame(f, i * 3000))];
    expect(await decodedCount('ivf', ivf, FRAMES)).toBe(FRAMES);
  });

  it('H.264: access units in Annex-B, each ending with a delimiter, decode one by one', async () => {
    expect(h264).toHaveLength(FRAMES);
    const packets = h264Packets(h264, 1000);
    // Both packet forms were used: aggregates (SPS, PPS and small slices) and fragments (large slices).
    expect(packets.some((p) => (p.payload[0]! & 0x1f) === 24)).toBe(true);
    expect(packets.some((p) => (p.payload[0]! & 0x1f) === 28)).toBe(true);
    const { frames } = depacketize('h264', packets);
    expect(frames).toHaveLength(FRAMES);
    const startCode = [0, 0, 0, 1];
    frames.forEach((frame, i) => {
      const expected = [...h264[i]!.flatMap((nal) => [...startCode, ...nal]), ...startCode, 0x09, 0xf0];
      expect(Buffer.from(frame.data)).toEqual(Buffer.from(expected));
    });
    expect(frames.filter((f) => f.keyframe)).toHaveLength(FRAMES / 10);
    expect(
      await decodedCount(
        'h264',
        frames.map((f) => f.data),
        FRAMES,
      ),
    ).toBe(FRAMES);
  });

  it('puts reordered packets back in order and skips padding', () => {
    const packets = vp8Packets(vp8, 0);
    // Swap neighbours after the first, and add a padding-only packet (a bandwidth probe) in the sequence.
    const shuffled: RtpVideoPacket[] = [packets[0]!];
    for (let i = 1; i + 1 < packets.length; i += 2) shuffled.push(packets[i + 1]!, packets[i]!);
    if (packets.length % 2 === 0) shuffled.push(packets.at(-1)!);
    const renumbered = [
      ...shuffled,
      { sequenceNumber: packets.length, timestamp: 0, marker: false, payload: new Uint8Array() },
    ];
    const { frames, depacketizer } = depacketize('vp8', renumbered);
    expect(frames).toHaveLength(FRAMES);
    expect(depacketizer.stats).toMatchObject({ lostPackets: 0, droppedFrames: 0 });
  });

  it('after a lost packet drops frames until the next key frame, and asks for one', async () => {
    for (const codec of ['vp8', 'h264'] as const) {
      const packets = codec === 'vp8' ? vp8Packets(vp8, 0) : h264Packets(h264, 0);
      // Lose the first packet of frame 3 (a delta frame; key frames are 0, 10 and 20).
      const lost = packets.findIndex((p) => p.timestamp === 3 * 3000);
      let requests = 0;
      const { frames, depacketizer } = depacketize(
        codec,
        packets.filter((_p, i) => i !== lost),
        () => requests++,
      );
      // Frames 0–2, then nothing until key frame 10, then the rest.
      expect(frames.map((f) => f.timestamp / 3000)).toEqual([0, 1, 2, ...Array.from({ length: 20 }, (_, i) => i + 10)]);
      expect(depacketizer.stats.lostPackets).toBe(1);
      expect(requests).toBeGreaterThan(0);
      // What is left still decodes: the decoder never sees a broken reference.
      const chunks =
        codec === 'vp8'
          ? [ivfFileHeader(320, 240), ...frames.map((f, i) => ivfFrame(f, i * 3000))]
          : frames.map((f) => f.data);
      expect(await decodedCount(codec === 'vp8' ? 'ivf' : 'h264', chunks, frames.length)).toBe(frames.length);
    }
  });

  it('follows a sender that restarts its sequence numbers, from its next key frame', () => {
    const first = vp8Packets(vp8.slice(0, 10), 30_000);
    const second = vp8Packets(vp8.slice(10), 100);
    const { frames, depacketizer } = depacketize('vp8', [...first, ...second]);
    expect(frames).toHaveLength(FRAMES);
    expect(depacketizer.needsKeyframe).toBe(false);
  });
});
