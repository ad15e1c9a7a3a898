import { describe, expect, it } from 'vitest';
import { ffmpegInfo } from './ffmpegBinary.ts';

describe('ffmpeg binary', () => {
  it('finds ffmpeg and knows its version', () => {
    const info = ffmpegInfo();
    expect(info.path).toMatch(/ffmpeg/);
    expect(info.version.major).toBeGreaterThanOrEqual(4);
  });
});
