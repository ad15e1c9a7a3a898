// Crash-safe filesystem writes for enrolment. A new image is written to a dotfile beside its final name,
// fsynced, then linked into place (link fails if the name is taken, so nothing is ever overwritten) and the
// directory fsynced: after a crash the image is either whole under its name or absent. A new person's folder is
// built under a temp name with its first image in it, then renamed into place. Deleting a person first
// renames the folder to a dot-name, so it disappears from the tree at once even if removing it is interrupted.
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DELETING_PREFIX, TEMP_PREFIX } from './scan.ts';

function isCode(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Makes a directory entry change (create, rename, unlink) durable. Best effort where fsync on a directory is refused. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!isCode(err, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF')) throw err;
  } finally {
    await handle?.close();
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Creates `dir` (not its parents); false when it already exists. */
export async function createDir(dir: string, parent: string): Promise<boolean> {
  try {
    await mkdir(dir);
  } catch (err) {
    if (isCode(err, 'EEXIST')) return false;
    throw err;
  }
  await fsyncDir(parent);
  return true;
}

function tempName(): string {
  return `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`;
}

/**
 * Writes `bytes` to `dir/name` unless that name is taken; returns the new file's stats, or undefined when the
 * name was taken (nothing written).
 */
export async function writeNewFile(dir: string, name: string, bytes: Uint8Array): Promise<Stats | undefined> {
  const temp = join(dir, tempName());
  const final = join(dir, name);
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temp, final);
    } catch (err) {
      if (isCode(err, 'EEXIST')) return undefined;
      if (!isCode(err, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK')) throw err;
      // Filesystems without hard links: check, then rename (rename would replace a file created in between).
      if (await exists(final)) return undefined;
      await rename(temp, final);
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(dir);
  // Stat after the temp name is gone: unlinking it changed the inode's link count, hence its ctime.
  return lstat(final);
}

/**
 * Creates the folder `root/name` with one new file in it, in one step: the folder is built under a temp name and
 * renamed into place, so a crash never leaves the person without the photo that created them. Returns the file's
 * stats, or undefined when the folder exists (nothing written).
 */
export async function writeNewFolder(
  root: string,
  name: string,
  file: string,
  bytes: Uint8Array,
): Promise<Stats | undefined> {
  const temp = join(root, tempName());
  await mkdir(temp);
  try {
    await writeNewFile(temp, file, bytes);
    // rename(2) would replace an empty folder of that name: the caller holds the facebank's lock, this guards
    // against one made by hand meanwhile.
    if (await exists(join(root, name))) return undefined;
    await rename(temp, join(root, name));
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  await fsyncDir(root);
  return lstat(join(root, name, file));
}

/** Removes a file; false when it was already gone. */
export async function removeFile(dir: string, name: string): Promise<boolean> {
  try {
    await unlink(join(dir, name));
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
  await fsyncDir(dir);
  return true;
}

/** Renames a directory; the caller has checked that `to` does not exist. */
export async function renameDir(root: string, from: string, to: string): Promise<void> {
  await rename(join(root, from), join(root, to));
  await fsyncDir(root);
}

/** Hides the folder at once (rename to a dotfile), then removes it; false when it was already gone. */
export async function deleteDir(root: string, name: string): Promise<boolean> {
  const hidden = join(root, `${DELETING_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    await rename(join(root, name), hidden);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return false;
    throw err;
  }
  await fsyncDir(root);
  await rm(hidden, { recursive: true, force: true });
  return true;
}

/** Removes what an interrupted write or delete left behind (only names this module creates). */
export async function removeLeftovers(root: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if ((entry.name.startsWith(DELETING_PREFIX) || entry.name.startsWith(TEMP_PREFIX)) && entry.isDirectory()) {
      await rm(join(root, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
    } else if (entry.isDirectory() && !entry.name.startsWith('.')) {
      for (const f of await readdir(join(root, entry.name), { withFileTypes: true }).catch(() => [])) {
        if (f.name.startsWith(TEMP_PREFIX) && f.isFile()) {
          await unlink(join(root, entry.name, f.name)).catch(() => undefined);
          removed.push(`${entry.name}/${f.name}`);
        }
      }
    }
  }
  return removed;
}

/** Removes a folder this module created if it is still empty (best effort: a scan tidies what is left). */
export async function removeEmptyDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch {
    return;
  }
  await fsyncDir(dirname(dir)).catch(() => undefined);
}
