// Reading the folder tree: <root>/<person>/<image>. Only real directories and regular files count (symlinks
// are skipped, so nothing outside the facebank directory is ever read or served).
import { createHash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isImageFileName, nameProblem } from './names.ts';

/** What decides whether a file's bytes must be hashed again (any change to the file changes its ctime). */
export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface ScannedFile extends FileStamp {
  person: string;
  file: string;
  path: string;
}

export interface ScannedTree {
  /** Every valid person folder, with its images (possibly none), sorted by name. */
  people: Map<string, ScannedFile[]>;
  /** Inode of each person folder (for the watcher). */
  folders: Map<string, number>;
  /** Entries that look meant for the facebank but cannot be used (invalid names, symlinks), for a warning. */
  skipped: string[];
}

export function stampOf(s: FileStamp): FileStamp {
  return { size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs, ino: s.ino };
}

export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Files or folders this module writes and the scan ignores (dot-prefixed, like every dotfile). */
export const TEMP_PREFIX = '.facebank-tmp-';
export const DELETING_PREFIX = '.facebank-deleting-';

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort(byName);
  } catch (err) {
    // A folder removed while we read the tree simply has nothing in it; the watcher will rescan.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return [];
    }
    throw err;
  }
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function scanTree(root: string): Promise<ScannedTree> {
  const people = new Map<string, ScannedFile[]>();
  const folders = new Map<string, number>();
  const skipped: string[] = [];
  for (const person of await entries(root)) {
    if (person.startsWith('.')) continue;
    const personPath = join(root, person);
    const st = await lstatOrUndefined(personPath);
    if (st === undefined || !(st.isDirectory() || st.isSymbolicLink())) continue;
    if (st.isSymbolicLink()) {
      skipped.push(`${person} (symbolic link)`);
      continue;
    }
    const problem = nameProblem(person);
    if (problem !== undefined) {
      skipped.push(`${person} (${problem})`);
      continue;
    }
    const files: ScannedFile[] = [];
    for (const file of await entries(personPath)) {
      if (file.startsWith('.') || !isImageFileName(file)) continue;
      const path = join(personPath, file);
      const fst = await lstatOrUndefined(path);
      if (fst === undefined) continue;
      if (!fst.isFile()) {
        if (fst.isSymbolicLink()) skipped.push(`${person}/${file} (symbolic link)`);
        continue;
      }
      files.push({ person, file, path, ...stampOf(fst) });
    }
    people.set(person, files);
    folders.set(person, st.ino);
  }
  return { people, folders, skipped };
}

/** Hashes a file's current content; undefined when it vanished meanwhile. */
export async function readAndHash(path: string): Promise<{ bytes: Buffer; sha256: string } | undefined> {
  try {
    const bytes = await readFile(path);
    return { bytes, sha256: sha256Hex(bytes) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Hashes a file without holding it in memory (for files too large to analyse). */
export async function hashFileStream(path: string): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return hash.digest('hex');
}
