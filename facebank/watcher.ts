// Watches the two-level tree <root>/<person>/<image> and calls `onChange` once things have settled.
//
// Why not fs.watch(root, { recursive: true })? On Linux, Node 20 implements recursive watching in JS over one
// inotify watch per directory, and it loses a directory once that directory is renamed: after `mv amy amy2`,
// images added to amy2 produce no events (checked on Node 20.20). Renaming a person folder and then adding to
// it is exactly what this must handle, and our tree has a fixed depth, so instead we keep one non-recursive
// watcher on the root plus one per person folder, and re-sync that set after every rescan (`sync`). This
// needs no dependency (chokidar 4 does the same per-directory watching in general form).
import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../models/logger.ts';

export class TreeWatcher {
  private root: FSWatcher | undefined;
  /** Person folder → its watcher and the folder's inode (a folder replaced under the same name needs a new watch). */
  private readonly people = new Map<string, { watcher: FSWatcher; ino: number }>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: () => void,
    private readonly debounceMs: number,
    private readonly logger?: Logger,
  ) {}

  start(people: ReadonlyMap<string, number>): void {
    this.root = this.open(this.dir, 'facebank directory');
    this.sync(people);
  }

  /** Watches exactly these person folders (name → inode; called after each rescan with the folders found). */
  sync(people: ReadonlyMap<string, number>): void {
    if (this.closed) return;
    for (const [name, w] of this.people) {
      if (people.get(name) !== w.ino) {
        w.watcher.close();
        this.people.delete(name);
      }
    }
    for (const [name, ino] of people) {
      if (this.people.has(name)) continue;
      const watcher = this.open(join(this.dir, name), `person folder ${name}`);
      if (watcher !== undefined) this.people.set(name, { watcher, ino });
    }
  }

  get watching(): number {
    return this.people.size + (this.root === undefined ? 0 : 1);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.root?.close();
    this.root = undefined;
    for (const w of this.people.values()) w.watcher.close();
    this.people.clear();
  }

  private open(path: string, what: string): FSWatcher | undefined {
    try {
      const w = watch(path, { persistent: false }, () => this.poke());
      w.on('error', (err) => {
        // Typically the folder was removed; the root watcher reports that and the rescan re-syncs.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EPERM') {
          this.logger?.warn({ err, path }, `facebank: watching the ${what} failed`);
        }
        this.poke();
      });
      return w;
    } catch (err) {
      // A folder that vanished between the scan and here is normal; anything else (e.g. ENOSPC: out of
      // inotify watches) means changes there need a restart or another change to be noticed.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger?.warn({ err, path }, `facebank: cannot watch the ${what}; changes in it will be missed`);
      }
      return undefined;
    }
  }

  /** Debounce: the change is applied `debounceMs` after the last event. */
  private poke(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.onChange();
    }, this.debounceMs);
  }
}
