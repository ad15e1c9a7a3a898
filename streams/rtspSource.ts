// A network camera read over RTSP (TCP) by ffmpeg: reconnects forever with capped backoff, restarts on stalls.
import {
  type DecoderExit,
  DecoderSource,
  type DecoderSourceOptions,
  type RawDecoderOptions,
  redactUrl,
} from './ffmpeg.ts';

export { redactUrl };

export interface RtspSourceOptions extends DecoderSourceOptions {
  /** rtsp:// or rtsps:// URL; credentials allowed (never logged, never in lastError). */
  url: string;
}

export class RtspSource extends DecoderSource {
  readonly kind = 'rtsp' as const;
  protected readonly label: string;
  private readonly url: string;

  constructor({ url, ...options }: RtspSourceOptions) {
    super(options);
    this.url = url.trim();
    this.label = redactUrl(this.url);
  }

  protected override preflight(): Promise<string | undefined> {
    let problem: string | undefined;
    try {
      const parsed = new URL(this.url);
      if (parsed.protocol !== 'rtsp:' && parsed.protocol !== 'rtsps:') problem = 'not an rtsp:// URL';
      else if (!parsed.hostname) problem = 'the URL has no host';
    } catch {
      problem = 'invalid URL';
    }
    return Promise.resolve(problem && `${problem}: ${this.label}`);
  }

  protected decoderOptions(): RawDecoderOptions {
    return {
      input: this.url,
      kind: 'rtsp',
      width: this.opts.width,
      fps: this.opts.fps,
      // ffmpeg's socket timeout only backs up this class's watchdogs, which come first and say what happened.
      socketTimeoutMs: Math.max(this.opts.stallMs, this.opts.connectTimeoutMs) + 2000,
      killGraceMs: this.opts.killGraceMs,
      logger: this.logger,
    };
  }

  protected override explainExit(exit: DecoderExit): string {
    const words = super.explainExit(exit);
    // ffmpeg exits 0 without a word when the server closes the connection.
    return words === 'the stream ended' ? 'connection lost: the camera closed the stream' : words;
  }
}
