// A supervised decoder: what RtspSource, FileSource and WebRtcSource share.
import { EventEmitter } from 'node:events';
import { type Logger, silentLogger } from '../../models/logger.ts';
import type { CameraKind, CameraState, Frame, FrameSource } from '../types.ts';
import { explainFfmpegErrors, FfmpegError } from './ffmpegErrors.ts';
import { type DecoderExit, type RawDecoder, type RawDecoderOptions, spawnRawDecoder } from './rawDecoder.ts';
import type { DecoderTimings } from './sourceDefaults.ts';

export interface DecoderSourceOptions extends DecoderTimings {
  /** Output width (height follows the aspect ratio). Unset: the source's own size. */
  width?: number;
  /** Decode rate; 0: the source's own rate. */
  fps: number;
  logger?: Logger;
}

type SourceEvents = { frame: [Frame]; state: [CameraState, (string | undefined)?] };

/**
 * Keeps one ffmpeg decoder running for a source: respawns on ANY exit (ffmpeg exits 0 when a camera drops) with
 * capped exponential backoff, and restarts it when frames stop. States: connecting (first attempt) → live →
 * stalled (watchdog) / reconnecting (waiting for or attempting a retry) → live …; stopped after stop().
 */
export abstract class DecoderSource extends EventEmitter<SourceEvents> implements FrameSource {
  abstract readonly kind: CameraKind;
  state: CameraState = 'stopped';
  /** Why the last run ended or was restarted, in clear words; kept after recovery, for health pages. */
  lastError: string | undefined;
  /** Number of restarts after a failure. */
  reconnects = 0;
  lastFrameAt: number | undefined;

  protected readonly logger: Logger;
  protected readonly opts: Required<Omit<DecoderSourceOptions, 'logger' | 'width'>> & { width: number | undefined };
  private decoder: RawDecoder | undefined;
  private started = false;
  private stopped = false;
  private seq = 0;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private returnWatch: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private attemptStartedAt = 0;
  private liveSince: number | undefined;
  /** Set when this class kills the decoder, so the exit is explained by the reason, not by ffmpeg's last words. */
  private killReason: string | undefined;
  /** A probe saw the input unreachable in this outage, and its return has not started a retry yet. */
  private sawDown = false;

  constructor(options: DecoderSourceOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    const { logger: _, ...opts } = options;
    this.opts = { ...opts, width: options.width };
    this.backoffMs = this.opts.initialBackoffMs;
  }

  /** The input for logs: credentials redacted. */
  protected abstract readonly label: string;
  /** Decoder options for the next attempt. */
  protected abstract decoderOptions(): RawDecoderOptions;
  /** A reason not to spawn at all this time (missing file, invalid URL), in clear words. */
  protected preflight(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }
  /** A new decoder is running (sources that feed its stdin start writing to it). */
  protected decoderStarted(_decoder: RawDecoder): void {}
  /**
   * A cheap check, while waiting to retry, of whether the input can be reached (e.g. a TCP connect); sources
   * without one just wait. When it said no and then says yes, the input has come back and the retry starts at
   * once instead of waiting out the backoff (a camera must be live again within seconds of its return).
   */
  protected reachable?(): Promise<boolean>;
  /** ffmpeg's error lines (or none) and exit → the clear words kept in lastError. */
  protected explainExit(exit: DecoderExit): string {
    const words = explainFfmpegErrors(exit.errors);
    if (words) return words;
    if (exit.code === 0) return 'the stream ended';
    return `ffmpeg exited (${exit.signal ?? `code ${exit.code}`})`;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.setState('connecting');
    // Checks a few times per watchdog period, and at least twice a second, so a stall is seen soon after stallMs.
    const tick = Math.min(500, Math.max(50, Math.min(this.opts.stallMs, this.opts.connectTimeoutMs) / 4));
    this.watchdog = setInterval(() => this.checkWatchdog(), tick);
    this.watchdog.unref();
    void this.attempt();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.returnWatch);
    clearInterval(this.watchdog);
    if (this.started) this.setState('stopped');
    const decoder = this.decoder;
    this.decoder = undefined;
    if (decoder) await decoder.kill();
    this.logger.info({ input: this.label }, 'source stopped');
  }

  /** The running decoder's pid (tests, diagnostics). */
  get decoderPid(): number | undefined {
    return this.decoder?.pid;
  }

  private async attempt(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearInterval(this.returnWatch);
    this.returnWatch = undefined;
    if (this.stopped) return;
    this.killReason = undefined;
    this.liveSince = undefined;
    let problem: string | undefined;
    try {
      problem = await this.preflight();
    } catch (err) {
      problem = (err as Error).message;
    }
    if (this.stopped) return;
    if (problem) return this.failed(problem);
    let decoder: RawDecoder;
    try {
      decoder = spawnRawDecoder(this.decoderOptions());
    } catch (err) {
      return this.failed(err instanceof FfmpegError ? err.message : `cannot start ffmpeg: ${(err as Error).message}`);
    }
    this.decoder = decoder;
    this.attemptStartedAt = Date.now();
    decoder.on('frame', (frame) => this.onFrame(decoder, frame));
    decoder.on('exit', (exit) => this.onExit(decoder, exit));
    this.decoderStarted(decoder);
  }

  private onFrame(decoder: RawDecoder, frame: Frame): void {
    if (this.stopped || decoder !== this.decoder || this.killReason) return;
    frame.seq = this.seq++;
    this.lastFrameAt = frame.capturedAt;
    if (this.state !== 'live') {
      this.liveSince = frame.capturedAt;
      this.sawDown = false;
      this.setState('live');
      this.logger.info(
        { input: this.label, width: frame.image.width, height: frame.image.height, pid: decoder.pid },
        'source live',
      );
    }
    this.emit('frame', frame);
  }

  private onExit(decoder: RawDecoder, exit: DecoderExit): void {
    if (this.stopped || decoder !== this.decoder) return;
    this.decoder = undefined;
    this.failed(this.killReason ?? this.explainExit(exit), exit);
  }

  private failed(reason: string, exit?: DecoderExit): void {
    const now = Date.now();
    if (this.liveSince !== undefined && now - this.liveSince >= this.opts.resetBackoffAfterMs) {
      this.backoffMs = this.opts.initialBackoffMs;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs);
    this.liveSince = undefined;
    // A camera that stays down fails the same way every retry: warn when something changed, not every 10 s.
    const news = reason !== this.lastError || this.state !== 'reconnecting';
    this.lastError = reason;
    this.reconnects++;
    this.logger[news ? 'warn' : 'debug'](
      { input: this.label, error: reason, code: exit?.code, signal: exit?.signal, retryInMs: delay },
      'source failed; retrying',
    );
    this.setState('reconnecting', reason);
    this.retryTimer = setTimeout(() => void this.attempt(), delay);
    this.watchForReturn();
  }

  /**
   * During the backoff wait, checks every RETURN_PROBE_MS whether the input is reachable; after a "no", a "yes"
   * starts the retry at once. Only a change counts, so an input that is reachable but failing (a wrong path, a
   * refused login) keeps its backoff instead of being retried four times a second. A "no" seen in an earlier wait
   * of the same outage counts too: the backoff's own retry may be refused just before the input listens again,
   * and its return must still cut the next wait short (it waited the whole backoff, up to 2 s, in the soak).
   */
  private watchForReturn(): void {
    const reachable = this.reachable?.bind(this);
    if (reachable === undefined) return;
    let probing = false;
    this.returnWatch = setInterval(async () => {
      if (probing || this.retryTimer === undefined || this.stopped) return;
      probing = true;
      try {
        const up = await reachable();
        if (!up) this.sawDown = true;
        else if (this.sawDown && this.retryTimer !== undefined && !this.stopped) {
          this.sawDown = false;
          void this.attempt();
        }
      } finally {
        probing = false;
      }
    }, RETURN_PROBE_MS);
    this.returnWatch.unref();
  }

  private checkWatchdog(): void {
    const decoder = this.decoder;
    if (this.stopped || !decoder || this.killReason) return;
    const now = Date.now();
    if (this.liveSince === undefined) {
      if (now - this.attemptStartedAt > this.opts.connectTimeoutMs) {
        this.restart(decoder, `timed out: no video within ${seconds(this.opts.connectTimeoutMs)}`);
      }
    } else if (decoder.lagMs > this.opts.maxLagMs) {
      this.restart(
        decoder,
        `falling behind: the picture was ${seconds(decoder.lagMs)} late (the CPU cannot decode this camera in real time); restarted at the live picture`,
      );
    } else if (this.silentSince(decoder, now) > this.opts.stallMs) {
      // Timers run before I/O in each turn of the event loop: after the loop was blocked (a busy CPU, a long
      // synchronous task), frames can be waiting in the pipe unread. Decide once the pending I/O has been read.
      setImmediate(() => this.confirmStall(decoder));
    }
  }

  /** How long ffmpeg has given nothing: no frame, not even part of one. */
  private silentSince(decoder: RawDecoder, now: number): number {
    return this.lastFrameAt === undefined ? 0 : now - Math.max(this.lastFrameAt, decoder.lastOutput);
  }

  private confirmStall(decoder: RawDecoder): void {
    if (this.stopped || decoder !== this.decoder || this.killReason) return;
    if (this.silentSince(decoder, Date.now()) <= this.opts.stallMs) return;
    const reason = `stalled: no frame for ${seconds(this.opts.stallMs)}`;
    this.lastError = reason;
    this.setState('stalled', reason);
    this.restart(decoder, reason);
  }

  private restart(decoder: RawDecoder, reason: string): void {
    this.killReason = reason;
    // The exit event (after the kill) goes through onExit → failed → retry.
    void decoder.kill();
  }

  private setState(state: CameraState, error?: string): void {
    if (this.state === state && state !== 'reconnecting') return;
    this.state = state;
    this.emit('state', state, error);
  }
}

/** How often a waiting source checks whether its input is back (see DecoderSource.reachable). */
const RETURN_PROBE_MS = 250;

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
