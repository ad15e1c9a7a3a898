// ffmpeg's raw RGB output, read frame by frame.
import { FfmpegError } from './ffmpegErrors.ts';

/**
 * Splits ffmpeg's `-f image2pipe -c:v ppm` output into frames. Each PPM frame is a short text header
 * ("P6\n<width> <height>\n255\n") and then exactly width×height×3 bytes of packed RGB: the stream describes itself,
 * so the size never has to be guessed or scraped from log text, and a lost byte shows up at once as a bad header
 * instead of every later frame silently shifting. Chunks from the pipe may end anywhere, mid-header included.
 */
export class PpmStreamParser {
  private header: number[] = [];
  private frame: Uint8Array | undefined;
  private filled = 0;
  private width = 0;
  private height = 0;

  constructor(
    private readonly onFrame: (image: { data: Uint8Array; width: number; height: number }) => void,
    private readonly maxPixels = 8192 * 8192,
  ) {}

  /** Throws FfmpegError on output that is not a PPM stream; the caller must then stop using this parser. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (!this.frame) {
        at = this.readHeader(chunk, at);
        continue;
      }
      const take = Math.min(chunk.length - at, this.frame.length - this.filled);
      this.frame.set(chunk.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.frame.length) {
        const data = this.frame;
        this.frame = undefined;
        this.onFrame({ data, width: this.width, height: this.height });
      }
    }
  }

  private readHeader(chunk: Uint8Array, start: number): number {
    let at = start;
    while (at < chunk.length) {
      const byte = chunk[at++]!;
      this.header.push(byte);
      // Header is "P6", then width, height, maxval, each after one whitespace, and one whitespace to end it.
      const text = String.fromCharCode(...this.header);
      const m = /^P6\s(\d+)\s(\d+)\s(\d+)\s$/.exec(text);
      if (m) {
        const width = Number(m[1]);
        const height = Number(m[2]);
        if (m[3] !== '255' || width < 1 || height < 1 || width * height > this.maxPixels) {
          throw new FfmpegError('failed', `unexpected decoder output: PPM header ${JSON.stringify(text)}`);
        }
        this.width = width;
        this.height = height;
        this.frame = new Uint8Array(width * height * 3);
        this.filled = 0;
        this.header = [];
        return at;
      }
      if (this.header.length > 32 || (this.header.length >= 2 && !text.startsWith('P6'))) {
        throw new FfmpegError('failed', `unexpected decoder output: ${JSON.stringify(text.slice(0, 32))}`);
      }
    }
    return at;
  }
}
