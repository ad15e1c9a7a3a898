import { describe, expect, it } from 'vitest';
import { redactUrl } from './credentials.ts';

describe('redactUrl', () => {
  it('redacts credentials', () => {
    expect(redactUrl('rtsp://admin:hunter2@10.0.0.5:554/h264')).toBe('rtsp://***@10.0.0.5:554/h264');
    expect(redactUrl('open rtsp://admin:p@ss@cam/x: Connection refused')).toBe(
      'open rtsp://***@cam/x: Connection refused',
    );
    expect(redactUrl('rtsp://10.0.0.5/h264')).toBe('rtsp://10.0.0.5/h264');
  });
});
