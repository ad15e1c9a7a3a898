import { scrub } from './credentials.ts';

/** The last `max` lines of a text stream, each scrubbed of credentials. */
export class LineTail {
  readonly lines: string[] = [];
  private partial = '';
  constructor(
    private readonly max: number,
    private readonly secrets: readonly string[],
    /** Sees each line first; a line it answers `false` for is not kept (e.g. ffmpeg's progress reports). */
    private readonly onLine?: (line: string) => boolean | undefined,
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
    if (!line || this.onLine?.(line) === false) return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
}
