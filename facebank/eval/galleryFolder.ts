// A facebank folder for one gallery of the open-set evaluation, in a scratch directory: <dir>/<Name>/<file>,
// hard links to the dataset's images (copies across filesystems). Made to match the trial exactly, so reusing
// a folder between runs only touches what changed.
import { copyFile, link, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

export async function writeGalleryFolder(
  dir: string,
  root: string,
  enrolment: ReadonlyMap<string, readonly string[]>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(dir)) {
    if (!enrolment.has(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
  for (const [name, paths] of enrolment) {
    const person = join(dir, name);
    await mkdir(person, { recursive: true });
    const wanted = new Set(paths.map((p) => basename(p)));
    const present = new Set(await readdir(person));
    for (const f of present) if (!wanted.has(f)) await rm(join(person, f), { force: true });
    for (const p of paths) {
      const file = basename(p);
      if (present.has(file)) continue;
      try {
        await link(join(root, p), join(person, file));
      } catch {
        await copyFile(join(root, p), join(person, file));
      }
    }
  }
}
