import { describe, expect, it } from 'vitest';
import { explainFfmpegError } from './ffmpegErrors.ts';

describe('explainFfmpegError', () => {
  it('explains errors in clear words', () => {
    expect(
      explainFfmpegError('[tcp @ 0x5581] Connection to tcp://127.0.0.1:1?timeout=0 failed: Connection refused'),
    ).toBe('connection refused');
    expect(explainFfmpegError('[rtsp @ 0x558f] method DESCRIBE failed: 404 Not Found')).toBe('stream not found (404)');
    expect(explainFfmpegError('Decoder (codec hevc) not found for input stream #0:0')).toBe('unsupported codec hevc');
  });
});
