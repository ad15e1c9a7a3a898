// The one module that spawns ffmpeg: finding the binary, decoding a camera, a file or a stream written to its stdin
// into RGB frames, one-shot jobs, and a process-wide registry so no ffmpeg child outlives the server. Sources
// (rtspSource.ts, fileSource.ts, webrtcSource.ts) build on DecoderSource below; nothing else should call
// child_process for ffmpeg.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { CameraKind, CameraState, Frame, FrameSource } from './types.ts';

/** pino-compatible: a pino Logger fits, so does any object with these four methods. */
export interface StreamLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

const silent: StreamLogger = { debug() {}, info() {}, warn() {}, error() {} };

export type FfmpegErrorCode = 'not_found' | 'failed' | 'timeout';

export class FfmpegError extends Error {
  override name = 'FfmpegError';
  constructor(
    readonly code: FfmpegErrorCode,
    message: string,
    /** ffmpeg's last stderr lines, credentials redacted. */
    readonly stderr: readonly string[] = [],
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials

/**
 * `rtsp://user:pass@host/x` → `rtsp://***@host/x`, for every URL in the text. ffmpeg prints its input URL in its
 * own error lines, so every stderr line goes through this before it is kept, logged or shown.
 */
export function redactUrl(text: string): string {
  // Greedy up to the authority's last '@': a raw '@' inside a password ("admin:p@ss@host") is hidden too.
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/]+@/gi, '$1***@');
}

/** The user-info of a URL, raw and percent-decoded, to scrub wherever it might appear on its own. */
function secretsOf(input: string): string[] {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^\s/]+)@/i.exec(input)?.[1];
  if (!userinfo) return [];
  const colon = userinfo.indexOf(':');
  const parts = colon < 0 ? [userinfo] : [userinfo, userinfo.slice(0, colon), userinfo.slice(colon + 1)];
  const secrets = new Set<string>();
  for (const part of parts) {
    if (part.length < 3) continue; // scrubbing "a" or "ad" would mangle every line
    secrets.add(part);
    try {
      secrets.add(decodeURIComponent(part));
    } catch {
      // not valid percent-encoding: the raw form is enough
    }
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

function scrub(line: string, secrets: readonly string[]): string {
  let out = redactUrl(line);
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Finding ffmpeg

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The system `ffmpeg` on PATH (distribution builds are current and have every codec), else the static build
 * shipped by @ffmpeg-installer/ffmpeg (a 2018 4.x snapshot: works, but old).
 */
export function resolveFfmpeg(): string {
  const system = onPath('ffmpeg');
  if (system) return system;
  try {
    const installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string };
    return installer.path;
  } catch {
    // The installer throws a plain string when its platform package is missing.
    throw new FfmpegError(
      'not_found',
      'ffmpeg not found: install it (apt-get install ffmpeg) or @ffmpeg-installer/ffmpeg',
    );
  }
}

export interface FfmpegVersion {
  major: number;
  minor: number;
}

export interface FfmpegInfo {
  path: string;
  /** The release; for git snapshots ("N-12345-g…") inferred from libavformat's major version. */
  version: FfmpegVersion;
  libavformat: FfmpegVersion;
  /** ffmpeg -version's first line. */
  banner: string;
}

let info: FfmpegInfo | undefined;

/** Runs `ffmpeg -version` once per process (a few ms, synchronous) and caches the answer. */
export function ffmpegInfo(): FfmpegInfo {
  if (info) return info;
  const bin = resolveFfmpeg();
  const result = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) {
    throw new FfmpegError(
      'not_found',
      `cannot run ${bin} -version: ${result.error?.message ?? `exit ${result.status}`}`,
    );
  }
  const text = result.stdout;
  const banner = text.split('\n', 1)[0] ?? '';
  const lavf = /libavformat\s+(\d+)\.\s*(\d+)/.exec(text);
  const libavformat = { major: Number(lavf?.[1] ?? 0), minor: Number(lavf?.[2] ?? 0) };
  const release = /^ffmpeg version n?(\d+)\.(\d+)/.exec(banner);
  // libavformat 58 shipped with ffmpeg 4, 59 with 5, 60 with 6, 61 with 7, 62 with 8.
  const version = release
    ? { major: Number(release[1]), minor: Number(release[2]) }
    : { major: libavformat.major >= 57 ? libavformat.major - 54 : 0, minor: 0 };
  info = { path: bin, version, libavformat, banner };
  return info;
}

/**
 * RTSP's socket I/O timeout (µs) is `-timeout` from ffmpeg 5; in 4.x it is `-stimeout`, and 4.x's `-timeout` means
 * something else entirely (listen for an incoming connection), so the name must follow the version.
 */
export function rtspTimeoutFlag(v: FfmpegVersion = ffmpegInfo().version): '-timeout' | '-stimeout' {
  return v.major >= 5 ? '-timeout' : '-stimeout';
}

// ---------------------------------------------------------------------------------------------------------------
// Spawning, and the registry of live children

const children = new Set<ChildProcess>();
let hooksInstalled = false;
let pdeathsigWrapper: string | null | undefined;

/**
 * util-linux's `setpriv --pdeathsig KILL` execs ffmpeg (same pid) with PR_SET_PDEATHSIG: the kernel kills it when
 * the Node process dies in any way, including SIGKILL, where no exit hook runs. Linux only; checked once.
 * (The signal follows the thread that spawned it: the main thread here, or a worker thread if sources run there.)
 */
function deathSignalWrapper(): string | null {
  if (pdeathsigWrapper !== undefined) return pdeathsigWrapper;
  pdeathsigWrapper = null;
  const setpriv = process.platform === 'linux' ? onPath('setpriv') : undefined;
  if (setpriv && spawnSync(setpriv, ['--pdeathsig', 'KILL', '--', 'true'], { timeout: 5000 }).status === 0) {
    pdeathsigWrapper = setpriv;
  }
  return pdeathsigWrapper;
}

function killAllNow(): void {
  for (const child of children) child.kill('SIGKILL');
}

function onTerminationSignal(signal: NodeJS.Signals): void {
  killAllNow();
  // Listening to a signal cancels Node's default exit; when nobody else handles it, exit the way it would have.
  if (process.listenerCount(signal) === 1) {
    process.off(signal, onTerminationSignal);
    process.kill(process.pid, signal);
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL, no waiting. Covers process.exit() and a normal end.
  process.on('exit', killAllNow);
  process.on('SIGINT', onTerminationSignal);
  process.on('SIGTERM', onTerminationSignal);
}

export interface SpawnOptions {
  /** stdout as a pipe (decoders) or ignored (jobs that write files). */
  stdout?: 'pipe' | 'ignore';
  /** stdin as a pipe (decoders fed by the caller, e.g. WebRTC video) or ignored. */
  stdin?: 'pipe' | 'ignore';
}

/** Spawns ffmpeg with these arguments, registered so it is killed with the process. */
export function spawnFfmpeg(
  args: readonly string[],
  { stdout = 'ignore', stdin = 'ignore' }: SpawnOptions = {},
): ChildProcess {
  const bin = ffmpegInfo().path;
  installExitHooks();
  const wrapper = deathSignalWrapper();
  const [command, argv] = wrapper ? [wrapper, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, [...args]];
  const child = spawn(command, argv, { stdio: [stdin, stdout, 'pipe'] });
  children.add(child);
  const forget = () => children.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
  return child;
}

/** Waits for the child's end; SIGTERM first, SIGKILL after `graceMs` if it is still there. */
function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Kills every ffmpeg this process started (decoders and jobs) and waits until they have exited. */
export async function killAllDecoders(graceMs = 2000): Promise<void> {
  await Promise.all([...children].map((child) => terminate(child, graceMs)));
}

/** Pids of the live ffmpeg children (for tests and diagnostics). */
export function liveFfmpegPids(): number[] {
  return [...children].flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
}

export interface RunOptions {
  /** Kill the job after this long (default 120 s). */
  timeoutMs?: number;
}

/** Runs a one-shot ffmpeg job (encoding a file, say); rejects with FfmpegError and ffmpeg's last lines. */
export function runFfmpeg(args: readonly string[], { timeoutMs = 120_000 }: RunOptions = {}): Promise<void> {
  const child = spawnFfmpeg(['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y', ...args]);
  const tail = new LineTail(50, []);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => tail.push(text));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void terminate(child, 2000);
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FfmpegError('failed', `ffmpeg did not start: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      tail.flush();
      if (code === 0) return resolve();
      const why = timedOut ? `timed out after ${timeoutMs} ms` : `failed (${signal ?? `exit ${code}`})`;
      const last = tail.lines.at(-1);
      reject(new FfmpegError(timedOut ? 'timeout' : 'failed', `ffmpeg ${why}${last ? `: ${last}` : ''}`, tail.lines));
    });
  });
}

/** The last `max` lines of a text stream, each scrubbed of credentials. */
class LineTail {
  readonly lines: string[] = [];
  private partial = '';
  constructor(
    private readonly max: number,
    private readonly secrets: readonly string[],
    private readonly onLine?: (line: string) => void,
  ) {}

  push(text: string): void {
    const parts = (this.partial + text).split(/\r?\n|\r/);
    this.partial = parts.pop() ?? '';
    for (const part of parts) this.add(part);
  }

  flush(): void {
    if (this.partial) this.add(this.partial);
    this.partial = '';
  }

  private add(raw: string): void {
    const line = scrub(raw.trimEnd(), this.secrets);
    if (!line) return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
    this.onLine?.(line);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ffmpeg's error lines in clear words

// Decoder chatter on a lossy stream: not the reason a process ended.
const NOISE =
  /corrupt decoded frame|concealing|error while decoding|non monotonically|Last message repeated|missed \d+ packets|max delay reached|decode_slice_header|no frame!|Past duration|Invalid NAL|deprecated pixel format|Guessed Channel Layout|Dropping|Stream ends prematurely|RTP: PT=|Estimating duration/i;
const ERRORISH =
  /error|fail|refused|not found|no such|denied|invalid|unsupported|unknown|cannot|could not|unable|timed out|timeout|reset by peer|broken pipe|end of file|unauthorized|forbidden|matches no streams|does not contain/i;

/** True for a stderr line that can explain why ffmpeg stopped. */
export function isMeaningfulError(line: string): boolean {
  return ERRORISH.test(line) && !NOISE.test(line);
}

// Known error lines → clear words. Order matters: the first rule that matches a line wins.
const RULES: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/Connection refused/i, () => 'connection refused'],
  [/\b404 Not Found/i, () => 'stream not found (404)'],
  [/\b401 Unauthorized/i, () => 'authentication failed (401): check the user name and password'],
  [/\b403 Forbidden/i, () => 'access denied (403)'],
  [/timed out/i, () => 'timed out'],
  [/No route to host|Network is unreachable/i, () => 'host unreachable'],
  [
    /Name or service not known|Failed to resolve|nodename nor servname|Temporary failure in name resolution/i,
    () => 'host name not found',
  ],
  [/Connection reset by peer|Broken pipe|End of file/i, () => 'connection lost'],
  [/Decoder \(codec (\S+)\) not found/i, (m) => `unsupported codec ${m[1]}`],
  [/Unsupported codec(?: with id \d+)?(?: for input stream #?\S+)?(.*)/i, (m) => `unsupported codec${m[1] ?? ''}`],
  [/No such file or directory/i, () => 'file not found'],
  [/Could not find codec parameters/i, () => 'could not read the video (no decodable frame: unsupported codec?)'],
  [/Permission denied/i, () => 'permission denied'],
  [/matches no streams|does not contain any stream/i, () => 'no video stream'],
  [/Invalid data found when processing input/i, () => 'not a playable video (invalid data or unsupported format)'],
  [/moov atom not found/i, () => 'not a playable video (no index: an incomplete or corrupt MP4)'],
  [/Server returned (\d{3}.*)$/i, (m) => `server returned ${m[1]}`],
  [/method \w+ failed: (.*)$/i, (m) => `server returned ${m[1]}`],
];

function explainKnown(line: string): string | undefined {
  for (const [pattern, say] of RULES) {
    const m = pattern.exec(line);
    if (m) return say(m);
  }
  return undefined;
}

/** One ffmpeg error line (credentials already redacted) in short, clear words. */
export function explainFfmpegError(line: string): string {
  // Unknown: ffmpeg's own words, without the "[tcp @ 0x55…]" prefix.
  return explainKnown(line) ?? line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, '');
}

/**
 * ffmpeg's error lines of one run → clear words: the first line a rule knows (a demuxer's detail line often comes
 * before the one that says what is wrong), else the first line as it is.
 */
export function explainFfmpegErrors(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const known = explainKnown(line);
    if (known) return known;
  }
  return lines[0] === undefined ? undefined : explainFfmpegError(lines[0]);
}

// ---------------------------------------------------------------------------------------------------------------
// Raw RGB decoding

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
  /** RTSP: ffmpeg's own socket timeout, a backstop for the watchdogs in DecoderSource (default 10 s). */
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
  /** SIGTERM → SIGKILL delay of kill() (default 2 s). */
  killGraceMs?: number;
  logger?: StreamLogger;
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

function inputKind(opts: RawDecoderOptions): 'rtsp' | 'file' | 'stdin' {
  return opts.kind ?? (/^rtsps?:\/\//i.test(opts.input) ? 'rtsp' : 'file');
}

/** ffmpeg's arguments for a decoder (exported for tests; contains the URL as given, credentials included). */
export function decoderArgs(opts: RawDecoderOptions, version: FfmpegVersion = ffmpegInfo().version): string[] {
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
    const timeoutUs = String(Math.round((opts.socketTimeoutMs ?? 10_000) * 1000));
    // TCP: no UDP ports to open, no loss-induced smearing; video only: no SETUP for audio tracks.
    args.push('-rtsp_transport', 'tcp', rtspTimeoutFlag(version), timeoutUs, '-allowed_media_types', 'video');
    // ffmpeg's default analysis held the first frame back ~1.8 s (measured on ffmpeg 5.1 against the test camera;
    // 0.2 s with the quick probe): a camera that comes back must be live within seconds.
    if ((opts.probe ?? 'quick') === 'quick') args.push('-probesize', '32', '-analyzeduration', '1');
    // Live: hand frames on as soon as decoded rather than buffering for smooth playback.
    args.push('-fflags', 'nobuffer', '-i', opts.input);
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
  private result: DecoderExit | undefined;
  private readonly done: Promise<DecoderExit>;

  constructor(opts: RawDecoderOptions) {
    super();
    const logger = opts.logger ?? silent;
    const secrets = secretsOf(opts.input);
    const label = redactUrl(opts.input);
    this.killGraceMs = opts.killGraceMs ?? 2000;
    let seq = 0;
    const nextSeq = opts.nextSeq ?? (() => seq++);

    this.stderr = new LineTail(50, secrets, (line) => {
      if (this.errors.length < 10 && isMeaningfulError(line)) this.errors.push(line);
      logger.debug({ input: label, line }, 'ffmpeg');
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

// ---------------------------------------------------------------------------------------------------------------
// A supervised decoder: what RtspSource and FileSource share

export interface DecoderSourceOptions {
  /** Output width (height follows the aspect ratio). Default: the source's own size. */
  width?: number;
  /** Decode rate; 0 or unset: the source's own rate. */
  fps?: number;
  /** No frame for this long while live → 'stalled', and the decoder is restarted (default 5 s). */
  stallMs?: number;
  /** No first frame this long after (re)starting the decoder → it is restarted (default 10 s). */
  connectTimeoutMs?: number;
  /** Delay before the first retry, doubled after each failure up to maxBackoffMs (defaults 0.5 s, 2 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** A run live at least this long resets the backoff (default 10 s). */
  resetBackoffAfterMs?: number;
  killGraceMs?: number;
  logger?: StreamLogger;
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

  protected readonly logger: StreamLogger;
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

  constructor(options: DecoderSourceOptions) {
    super();
    this.logger = options.logger ?? silent;
    this.opts = {
      width: options.width,
      fps: options.fps ?? 0,
      stallMs: options.stallMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      initialBackoffMs: options.initialBackoffMs ?? 500,
      // A camera that comes back must be live again within seconds, so retries never wait longer than 2 s;
      // a retry costs one short-lived ffmpeg process.
      maxBackoffMs: options.maxBackoffMs ?? 2_000,
      resetBackoffAfterMs: options.resetBackoffAfterMs ?? 10_000,
      killGraceMs: options.killGraceMs ?? 2000,
    };
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
   * refused login) keeps its backoff instead of being retried four times a second.
   */
  private watchForReturn(): void {
    const reachable = this.reachable?.bind(this);
    if (reachable === undefined) return;
    let sawDown = false;
    let probing = false;
    this.returnWatch = setInterval(async () => {
      if (probing || this.retryTimer === undefined || this.stopped) return;
      probing = true;
      try {
        const up = await reachable();
        if (!up) sawDown = true;
        else if (sawDown && this.retryTimer !== undefined && !this.stopped) void this.attempt();
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
    } else if (this.lastFrameAt !== undefined && now - this.lastFrameAt > this.opts.stallMs) {
      const reason = `stalled: no frame for ${seconds(this.opts.stallMs)}`;
      this.lastError = reason;
      this.setState('stalled', reason);
      this.restart(decoder, reason);
    }
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
