import { describe, expect, it } from 'vitest';
import { decoderArgs } from './rawDecoder.ts';

describe('decoderArgs', () => {
  it('names the RTSP timeout option by ffmpeg version, and asks for every frame unchanged', () => {
    const url = 'rtsp://cam.local/x';
    const v4 = decoderArgs({ input: url, width: 320, socketTimeoutMs: 12_000 }, { major: 4, minor: 4 });
    const v5 = decoderArgs({ input: url, width: 320, socketTimeoutMs: 12_000 }, { major: 5, minor: 1 });
    expect(v4).toContain('-stimeout');
    expect(v4).not.toContain('-timeout');
    expect(v4.join(' ')).toContain('-vsync passthrough');
    expect(v5).toContain('-timeout');
    expect(v5.join(' ')).toContain('-fps_mode passthrough');
    expect(v5.join(' ')).toContain('-rtsp_transport tcp -timeout 12000000 -allowed_media_types video');
    expect(v5.join(' ')).toContain('scale=320:-2');
    expect(v5.join(' ')).toContain('-probesize 32 -analyzeduration 1');
    const full = decoderArgs({ input: url, probe: 'full' }, { major: 5, minor: 1 });
    expect(full).not.toContain('-probesize');
    const file = decoderArgs({ input: '/videos/a:b.mp4' }, { major: 5, minor: 1 }).join(' ');
    expect(file).toContain('-re -stream_loop -1 -i file:/videos/a:b.mp4');
  });
});
