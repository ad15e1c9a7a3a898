// `facerec facebank import <dir>`: people folders (<dir>/<person>/<image>, as FACEBANK_DIR) loaded into the shared
// database, in one transaction (all or nothing), so that every node enrols them. Nodes never upload their own
// folders by themselves: what is shared is decided here, once, by the operator.
import { readFile, stat } from 'node:fs/promises';
import type pg from 'pg';
import { MAX_IMAGE_BYTES } from '../../facebank/index.ts';
import { sniffFormat } from '../../facebank/names.ts';
import { scanTree } from '../../facebank/scan.ts';
import { facebankChanged, transaction } from './database.ts';
import { insertPhoto } from './sharedFacebank.ts';

export interface ImportResult {
  people: number;
  /** Photos new to the database. */
  added: number;
  /** Photos the database already had (the same content for the same person). */
  present: number;
  /** Entries that are not usable images (not JPEG, PNG or WebP, too large, invalid names, symlinks). */
  skipped: string[];
}

export async function importFacebank(pool: pg.Pool, dir: string): Promise<ImportResult> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new Error(`${dir} is not a directory`);
  const tree = await scanTree(dir);
  const skipped = [...tree.skipped];
  const photos: { person: string; file: string; bytes: Buffer }[] = [];
  for (const [person, files] of tree.people) {
    for (const f of files) {
      const bytes = f.size > MAX_IMAGE_BYTES ? undefined : await readFile(f.path);
      if (bytes === undefined || sniffFormat(bytes) === undefined) skipped.push(`${person}/${f.file}`);
      else photos.push({ person, file: f.file, bytes });
    }
  }
  const added = await transaction(pool, async (client) => {
    let n = 0;
    for (const p of photos) if (await insertPhoto(client, p.person, p.file, p.bytes)) n++;
    if (n > 0) await facebankChanged(client);
    return n;
  });
  return {
    people: new Set(photos.map((p) => p.person)).size,
    added,
    present: photos.length - added,
    skipped,
  };
}
