// A local video file played in a loop at its native rate, as if it were a camera (demos, tests, recordings).
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { DecoderSource, type DecoderSourceOptions } from './decoderSource.ts';
import type { DecoderExit, RawDecoderOptions } from './rawDecoder.ts';

export interface FileSourceOptions extends DecoderSourceOptions {
  path: string;
}

export class FileSource extends DecoderSource {
  readonly kind = 'file' as const;
  protected readonly label: string;
  private readonly path: string;

  constructor({ path: file, ...options }: FileSourceOptions) {
    super(options);
    this.path = path.resolve(file);
    this.label = this.path;
  }

  /** Checked before every attempt, so a missing file says so plainly, and a file that appears later is picked up. */
  protected override async preflight(): Promise<string | undefined> {
    try {
      const info = await stat(this.path);
      if (!info.isFile()) return `not a file: ${this.path}`;
      await access(this.path, constants.R_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return `file not found: ${this.path}`;
      if (code === 'EACCES') return `permission denied: ${this.path}`;
      return `cannot read ${this.path}: ${(err as Error).message}`;
    }
  }

  protected decoderOptions(): RawDecoderOptions {
    return {
      input: this.path,
      kind: 'file',
      width: this.opts.width,
      fps: this.opts.fps,
      loop: true,
      realtime: true,
      killGraceMs: this.opts.killGraceMs,
      logger: this.logger,
    };
  }

  protected override explainExit(exit: DecoderExit): string {
    const words = super.explainExit(exit);
    // With -stream_loop -1 a healthy file never ends; a clean exit means ffmpeg gave up on it.
    return words === 'the stream ended' ? `playback ended unexpectedly: ${this.path}` : `${words}: ${this.path}`;
  }
}
