// A network camera read over RTSP (TCP) by ffmpeg: reconnects forever with capped backoff, restarts on stalls.
import { connect } from 'node:net';
import { redactUrl } from './credentials.ts';
import { DecoderSource, type DecoderSourceOptions } from './decoderSource.ts';
import type { DecoderExit, RawDecoderOptions } from './rawDecoder.ts';

/** A camera on the network answers a TCP connect within this, or counts as unreachable for now. */
const REACHABLE_TIMEOUT_MS = 1000;
/** ffmpeg's words when the probe ended before it knew the video's size or format. */
const QUICK_PROBE_FAILED = /Could not find codec parameters|unspecified (size|pixel format)/i;

export interface RtspSourceOptions extends DecoderSourceOptions {
  /** rtsp:// or rtsps:// URL; credentials allowed (never logged, never in lastError). */
  url: string;
}

export class RtspSource extends DecoderSource {
  readonly kind = 'rtsp' as const;
  protected readonly label: string;
  private readonly url: string;
  /** Set once a quick probe failed to read this camera's stream format (see RawDecoderOptions.probe). */
  private fullProbe = false;

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

  /** A TCP connect to the camera's RTSP port: far cheaper than an ffmpeg process, so it can be tried often. */
  protected override reachable(): Promise<boolean> {
    let host: string;
    let port: number;
    try {
      const u = new URL(this.url);
      host = u.hostname.replace(/^\[|\]$/g, '');
      port = u.port ? Number(u.port) : u.protocol === 'rtsps:' ? 322 : 554;
    } catch {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      const done = (up: boolean) => {
        socket.destroy();
        resolve(up);
      };
      socket.setTimeout(REACHABLE_TIMEOUT_MS, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }

  protected decoderOptions(): RawDecoderOptions {
    return {
      input: this.url,
      kind: 'rtsp',
      probe: this.fullProbe ? 'full' : 'quick',
      width: this.opts.width,
      fps: this.opts.fps,
      // ffmpeg's socket timeout only backs up this class's watchdogs, which come first and say what happened.
      socketTimeoutMs: Math.max(this.opts.stallMs, this.opts.connectTimeoutMs) + 2000,
      killGraceMs: this.opts.killGraceMs,
      logger: this.logger,
    };
  }

  protected override explainExit(exit: DecoderExit): string {
    if (!this.fullProbe && exit.errors.some((line) => QUICK_PROBE_FAILED.test(line))) {
      // Sticky: a camera whose SDP lacks the codec's parameters lacks them on every connection.
      this.fullProbe = true;
      this.logger.info({ input: this.label }, 'the quick probe could not read the stream; probing it fully from now');
      return 'the stream needs a full probe; retrying with one';
    }
    const words = super.explainExit(exit);
    // ffmpeg exits 0 without a word when the server closes the connection.
    return words === 'the stream ended' ? 'connection lost: the camera closed the stream' : words;
  }
}
