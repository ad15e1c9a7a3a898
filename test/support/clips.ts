// Test video clips made with ffmpeg from ../shared/testdata photos, written to a temp dir (never into the repo).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { runFfmpeg } from '../../streams/sources/ffmpegProcesses.ts';
import { type Person, personImage } from './testdata.ts';

export interface ClipOptions {
  /** Frame rate (default 15). */
  fps?: number;
  /** How long each image is shown (default 1.5 s). */
  secondsPerImage?: number;
  /** Canvas size (default 640×480); each image is scaled to fit `imageScale` of its height, centred on grey. */
  size?: { width: number; height: number };
  /** Fraction of the canvas height the image gets (default 0.6: faces large enough to detect). */
  imageScale?: number;
  /** Keyframe interval in seconds (default 1: a client joining mid-stream starts within a second). */
  keyframeSeconds?: number;
}

/**
 * Encodes the images, shown in turn, into an H.264 MP4 (yuv420p, no B-frames, fixed GOP, moov first), or when
 * `outPath` ends in .y4m into raw YUV4MPEG (what Chromium's fake webcam plays: --use-file-for-fake-video-capture).
 * No `-tune zerolatency`: its sliced threads split frames into several slices, which RTSP clients then see as
 * broken-up frames; a plain encode streams cleanly.
 */
export async function makeTestClip(
  images: readonly string[],
  outPath: string,
  opts: ClipOptions = {},
): Promise<string> {
  if (images.length === 0) throw new Error('makeTestClip: no images');
  const fps = opts.fps ?? 15;
  const seconds = opts.secondsPerImage ?? 1.5;
  const { width, height } = opts.size ?? { width: 640, height: 480 };
  const side = 2 * Math.round(((opts.imageScale ?? 0.6) * height) / 2);
  const gop = Math.max(1, Math.round(fps * (opts.keyframeSeconds ?? 1)));

  const inputs = images.flatMap((image) => [
    '-loop',
    '1',
    '-framerate',
    String(fps),
    '-t',
    String(seconds),
    '-i',
    image,
  ]);
  const chains = images.map(
    (_image, i) =>
      `[${i}:v]scale=${side}:${side}:force_original_aspect_ratio=decrease,` +
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=gray,setsar=1,format=yuv420p[v${i}]`,
  );
  const concat = `${images.map((_image, i) => `[v${i}]`).join('')}concat=n=${images.length}:v=1:a=0,fps=${fps}[out]`;
  const encode = outPath.endsWith('.y4m')
    ? ['-f', 'yuv4mpegpipe', '-pix_fmt', 'yuv420p']
    : [
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-pix_fmt',
        'yuv420p',
        '-g',
        String(gop),
        '-keyint_min',
        String(gop),
        '-sc_threshold',
        '0',
        '-bf',
        '0',
        '-movflags',
        '+faststart',
      ];
  await runFfmpeg([
    ...inputs,
    '-filter_complex',
    [...chains, concat].join(';'),
    '-map',
    '[out]',
    ...encode,
    '-an',
    outPath,
  ]);
  return outPath;
}

/**
 * Writes a plain image of the clips' background grey: shown in a clip, it is a moment with nobody in view (between
 * two people coming and going, say).
 */
export async function writeEmptyImage(file: string): Promise<string> {
  await sharp({ create: { width: 150, height: 150, channels: 3, background: '#808080' } })
    .png()
    .toFile(file);
  return file;
}

export interface TempClip {
  path: string;
  dir: string;
  /** Frames per second and length, as encoded. */
  fps: number;
  seconds: number;
  width: number;
  height: number;
  remove(): Promise<void>;
}

/** A 640×480 clip of four people's face crops, 1.5 s each (6 s), in a fresh temp dir. */
export async function makePeopleClip(
  people: readonly Person[] = ['penny', 'raj', 'amy', 'howard'],
  opts: ClipOptions = {},
): Promise<TempClip> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'facerec-clip-'));
  const fps = opts.fps ?? 15;
  const seconds = (opts.secondsPerImage ?? 1.5) * people.length;
  const { width, height } = opts.size ?? { width: 640, height: 480 };
  try {
    const file = await makeTestClip(
      people.map((person) => personImage(person, 1)),
      path.join(dir, 'people.mp4'),
      opts,
    );
    return { path: file, dir, fps, seconds, width, height, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
