// How far behind real time a live decoder's picture is, from ffmpeg's progress reports (`-progress pipe:2`).
// A CPU too busy to decode a camera in real time does not lose its frames: they wait in the socket's buffers,
// and ffmpeg goes on decoding older and older pictures (in the soak at a load of 15, ~6 of a stream's 15 fps,
// 50 s behind when its camera died). Nothing else shows it: frames keep coming, so the camera looks live.

import type { FfmpegVersion } from './ffmpegBinary.ts';

/**
 * ffmpeg's arguments for a report on stderr (`key=value` lines, each report ending with `progress=`): once a
 * second where ffmpeg can say so (4.4 and later), else at its default twice a second.
 */
export function progressArgs(v: FfmpegVersion): string[] {
  const period = v.major > 4 || (v.major === 4 && v.minor >= 4) ? ['-stats_period', '1'] : [];
  return ['-progress', 'pipe:2', ...period];
}

const REPORT_LINE = /^([a-z_0-9]+)=(.*)$/;

export class DecodeLag {
  /** Wall clock and stream time of the report the lag is measured from. */
  private base: { wall: number; media: number } | undefined;
  private outTimeMs: number | undefined;
  private last = 0;
  private beforeLast = 0;

  /**
   * Takes one stderr line; true when it was part of a progress report (not for logs). `now` is when it arrived.
   */
  line(text: string, now = Date.now()): boolean {
    const m = REPORT_LINE.exec(text);
    if (!m) return false;
    const [, key, value] = m;
    if (key === 'out_time_us') {
      const us = Number(value);
      this.outTimeMs = Number.isFinite(us) ? us / 1000 : undefined;
    } else if (key === 'progress') {
      this.report(now);
    }
    return true;
  }

  /**
   * How late the picture is, in ms: the smaller of the last two reports' lags, so that a backlog the decoder
   * catches up on at once (after a short hiccup) does not count; 0 before two reports.
   */
  get ms(): number {
    return Math.min(this.last, this.beforeLast);
  }

  private report(now: number): void {
    const media = this.outTimeMs;
    this.outTimeMs = undefined;
    if (media === undefined) return;
    const lag = this.base === undefined ? 0 : now - this.base.wall - (media - this.base.media);
    // The first report, and any stream time ahead of the wall clock (the start's burst of buffered frames, a
    // camera clock that jumps forward), set the base: lag is only ever measured as falling behind it.
    if (this.base === undefined || lag < 0) this.base = { wall: now, media };
    this.beforeLast = this.last;
    this.last = Math.max(0, lag);
  }
}
