import { describe, expect, it } from 'vitest';
import { PpmStreamParser } from './ppm.ts';

describe('PpmStreamParser', () => {
  it('splits a PPM stream into frames whatever the chunk boundaries', () => {
    const frame = (w: number, h: number, fill: number) =>
      Buffer.concat([Buffer.from(`P6\n${w} ${h}\n255\n`, 'latin1'), Buffer.alloc(w * h * 3, fill)]);
    const stream = Buffer.concat([frame(4, 2, 1), frame(4, 2, 2), frame(6, 4, 3)]);
    for (const chunkSize of [1, 3, 7, 16, 24, 1000]) {
      const got: Array<{ width: number; height: number; data: Uint8Array }> = [];
      const parser = new PpmStreamParser((image) => got.push(image));
      for (let at = 0; at < stream.length; at += chunkSize) parser.push(stream.subarray(at, at + chunkSize));
      expect(got.map((f) => [f.width, f.height, f.data.length, f.data[0], f.data.at(-1)])).toEqual([
        [4, 2, 24, 1, 1],
        [4, 2, 24, 2, 2],
        [6, 4, 72, 3, 3],
      ]);
    }
    expect(() => new PpmStreamParser(() => {}).push(Buffer.from('garbage that is not PPM'))).toThrow(/unexpected/);
  });
});
