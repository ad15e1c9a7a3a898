// One ffmpeg process decoding a camera, a file or a stream written to its stdin into RGB frames.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { type Logger, silentLogger } from '../../models/logger.ts';
import type { Frame } from '../types.ts';
import { redactUrl, secretsOf } from './credentials.ts';
import { DecodeLag, progressArgs } from './decodeLag.ts';
import { type FfmpegVersion, ffmpegInfo, rtspTimeoutFlag } from './ffmpegBinary.ts';
import { isMeaningfulError } from './ffmpegErrors.ts';
import { spawnFfmpeg, terminate } from './ffmpegProcesses.ts';
import { LineTail } from './lineTail.ts';
import { PpmStreamParser } from './ppm.ts';

export interface RawDecoderOptions {
  /** rtsp(s):// URL, or a local file path; for 'stdin', a name for logs. */
  input: string;
  /**
   * Default: 'rtsp' for rtsp:// and rtsps:// inputs, else 'file'. 'stdin': the caller writes a live stream of
   * `stdinFormat` with RawDecoder.write() (WebRTC video, depacketised).
   */
  kind?: 'rtsp' | 'file' | 'stdin';
  /** stdin: IVF (VP8 frames) or an H.264 Annex-B elementary stream. */
  stdinFormat?: 'ivf' | 'h264';
  /** Output width in pixels; the height keeps the aspect ratio, rounded to even. Default: the source's size. */
  width?: number;
  /** Output frame rate (ffmpeg's fps filter). 0 or unset: every frame of the source. */
  fps?: number;
  /** RTSP: ffmpeg's own socket timeout, a backstop for the watchdogs in DecoderSource (unset: ffmpeg's own). */
  socketTimeoutMs?: number;
  /**
   * RTSP: 'quick' (default) reads the stream's format from the camera's SDP and first packet; 'full' lets ffmpeg
   * analyse its default 5 MB / 5 s, for the rare camera whose SDP lacks the codec's parameters.
   */
  probe?: 'quick' | 'full';
  /** Files: loop forever (default true) at the native rate (`-re`, default true). */
  loop?: boolean;
  realtime?: boolean;
  /** Sequence numbers for frames; default 0, 1, 2… for this process. Sources pass theirs to span reconnects. */
  nextSeq?: () => number;
  /** SIGTERM → SIGKILL delay of kill(). */
  killGraceMs: number;
  logger?: Logger;
}

export interface DecoderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ffmpeg's first meaningful error line (redacted), if any. */
  lastError: string | undefined;
  /** The meaningful error lines of the run, first ones first (at most 10). */
  errors: string[];
  frames: number;
}

type DecoderEvents = { frame: [Frame]; exit: [DecoderExit] };

function inputKind(opts: Omit<RawDecoderOptions, 'killGraceMs'>): 'rtsp' | 'file' | 'stdin' {
  return opts.kind ?? (/^rtsps?:\/\//i.test(opts.input) ? 'rtsp' : 'file');
}

/** ffmpeg's arguments for a decoder (exported for tests; contains the URL as given, credentials included). */
export function decoderArgs(
  opts: Omit<RawDecoderOptions, 'killGraceMs'>,
  version: FfmpegVersion = ffmpegInfo().version,
): string[] {
  const kind = inputKind(opts);
  // -nostdin turns off ffmpeg's keyboard commands only; a pipe:0 input is still read.
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'warning'];
  if (kind === 'stdin') {
    // Written frame by frame as it arrives. low_delay: no frame threads, which held each frame back ~70 ms (one
    // frame per thread); probe only the first packet. Measured on ffmpeg 5.1, a frame then comes out ~3 ms after
    // it is written. Not `-fflags nobuffer`: on a pipe it held frames back by 2 s.
    args.push('-flags', 'low_delay', '-probesize', '32', '-analyzeduration', '1');
    args.push('-f', opts.stdinFormat ?? 'h264', '-i', 'pipe:0');
  } else if (kind === 'rtsp') {
    // TCP: no UDP ports to open, no loss-induced smearing; video only: no SETUP for audio tracks.
    const timeout =
      opts.socketTimeoutMs === undefined
        ? []
        : [rtspTimeoutFlag(version), String(Math.round(opts.socketTimeoutMs * 1000))];
    args.push('-rtsp_transport', 'tcp', ...timeout, '-allowed_media_types', 'video');
    // ffmpeg's default analysis held the first frame back ~1.8 s (measured on ffmpeg 5.1 against the test camera;
    // 0.2 s with the quick probe): a camera that comes back must be live within seconds.
    if ((opts.probe ?? 'quick') === 'quick') args.push('-probesize', '32', '-analyzeduration', '1');
    // Live: hand frames on as soon as decoded rather than buffering for smooth playback; report progress, so
    // that a decoder falling behind real time is seen (decodeLag.ts).
    args.push(...progressArgs(version), '-fflags', 'nobuffer', '-i', opts.input);
  } else {
    if (opts.realtime ?? true) args.push('-re');
    if (opts.loop ?? true) args.push('-stream_loop', '-1');
    // "file:" so that a name with a colon is never taken for a protocol (http:, concat:, …).
    args.push('-i', path.isAbsolute(opts.input) ? `file:${opts.input}` : opts.input);
  }
  const filters: string[] = [];
  if (opts.fps && opts.fps > 0) filters.push(`fps=${opts.fps}`); // before scaling: scale only frames kept
  if (opts.width) filters.push(`scale=${Math.round(opts.width)}:-2`);
  args.push('-map', '0:v:0');
  if (filters.length > 0) args.push('-vf', filters.join(','));
  // Every decoded frame out as it comes: image2pipe would otherwise get constant-rate output, where ffmpeg
  // duplicates or drops frames to fit the rate it guessed (wrong for cameras with jittery or variable timing).
  const fpsMode = version.major > 5 || (version.major === 5 && version.minor >= 1) ? '-fps_mode' : '-vsync';
  args.push(fpsMode, 'passthrough');
  args.push('-f', 'image2pipe', '-c:v', 'ppm', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/**
 * One ffmpeg process decoding one input into RGB frames. Emits 'frame' for each complete frame and 'exit' once,
 * after all output has been read. Never respawns: DecoderSource does that.
 */
export class RawDecoder extends EventEmitter<DecoderEvents> {
  readonly pid: number | undefined;
  private readonly child: ChildProcess;
  private readonly stderr: LineTail;
  private readonly killGraceMs: number;
  private readonly errors: string[] = [];
  private frameCount = 0;
  private lastOutputAt = 0;
  private readonly lag = new DecodeLag();
  private result: DecoderExit | undefined;
  private readonly done: Promise<DecoderExit>;

  constructor(opts: RawDecoderOptions) {
    super();
    const logger = opts.logger ?? silentLogger;
    const secrets = secretsOf(opts.input);
    const label = redactUrl(opts.input);
    this.killGraceMs = opts.killGraceMs;
    let seq = 0;
    const nextSeq = opts.nextSeq ?? (() => seq++);

    this.stderr = new LineTail(50, secrets, (line) => {
      if (this.lag.line(line)) return false;
      if (this.errors.length < 10 && isMeaningfulError(line)) this.errors.push(line);
      logger.debug({ input: label, line }, 'ffmpeg');
      return true;
    });
    this.child = spawnFfmpeg(decoderArgs(opts), {
      stdout: 'pipe',
      stdin: inputKind(opts) === 'stdin' ? 'pipe' : 'ignore',
    });
    this.pid = this.child.pid;
    // Writing to a decoder that has just exited fails with EPIPE; the exit itself says what happened.
    this.child.stdin?.on('error', (err) => logger.debug({ input: label, err: err.message }, 'ffmpeg stdin closed'));

    let resolveDone: (exit: DecoderExit) => void = () => {};
    this.done = new Promise((resolve) => {
      resolveDone = resolve;
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (this.result) return;
      this.stderr.flush();
      this.result = { code, signal, lastError: this.errors[0], errors: this.errors, frames: this.frameCount };
      logger.debug({ input: label, pid: this.pid, ...this.result }, 'ffmpeg decoder exited');
      resolveDone(this.result);
      this.emit('exit', this.result);
    };

    const parser = new PpmStreamParser((image) => {
      this.frameCount++;
      this.emit('frame', { image, capturedAt: Date.now(), seq: nextSeq() });
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      if (this.result) return;
      this.lastOutputAt = Date.now();
      try {
        parser.push(chunk);
      } catch (err) {
        this.errors.unshift((err as Error).message);
        this.child.stdout?.removeAllListeners('data');
        this.child.stdout?.resume();
        void terminate(this.child, this.killGraceMs);
      }
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (text: string) => this.stderr.push(text));
    this.child.once('error', (err) => {
      // Only a failed spawn reports here without 'close' following.
      this.errors.unshift(`ffmpeg did not start: ${err.message}`);
      if (this.child.pid === undefined) finish(null, null);
    });
    // 'close' comes after stdout and stderr have ended, so every frame and error line is in before 'exit'.
    this.child.once('close', (code, signal) => finish(code, signal));
    // Belt and braces: should a pipe stay open after the process has gone, do not wait for 'close' forever.
    this.child.once('exit', (code, signal) => {
      setTimeout(() => finish(code, signal), 2000).unref();
    });
    logger.debug({ input: label, pid: this.pid }, 'ffmpeg decoder started');
  }

  /** The first meaningful error line so far (redacted). */
  get lastError(): string | undefined {
    return this.errors[0];
  }

  /** The last ~50 stderr lines (redacted). */
  get stderrTail(): readonly string[] {
    return this.stderr.lines;
  }

  get frames(): number {
    return this.frameCount;
  }

  /** When ffmpeg last wrote picture bytes (ms since the epoch; 0: never): part of a frame counts as life. */
  get lastOutput(): number {
    return this.lastOutputAt;
  }

  /** RTSP: how far behind real time the picture is, in ms (decodeLag.ts); 0 for other inputs. */
  get lagMs(): number {
    return this.lag.ms;
  }

  /** stdin decoders: hands ffmpeg more of its input; false when the input is closed (the decoder is exiting). */
  write(chunk: Uint8Array): boolean {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded || this.result) return false;
    stdin.write(chunk);
    return true;
  }

  /** stdin decoders: bytes written that ffmpeg has not read yet (it is falling behind when this grows). */
  get pendingInputBytes(): number {
    return this.child.stdin?.writableLength ?? 0;
  }

  get exited(): boolean {
    return this.result !== undefined;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited and its output is read. */
  async kill(): Promise<DecoderExit> {
    // A stdin decoder blocked reading its input would only see the SIGTERM at the grace period's end; the end of
    // its input stops it at once.
    this.child.stdin?.end();
    if (!this.result) await terminate(this.child, this.killGraceMs);
    return this.done;
  }
}

export function spawnRawDecoder(opts: RawDecoderOptions): RawDecoder {
  return new RawDecoder(opts);
}
