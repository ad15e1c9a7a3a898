// The database as the server opens it: the settings that its durability and its memory bound rest on, on a new
// file and on one reopened (a database already in WAL mode opens with this build's defaults, not ours).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, PAGE_CACHE_KIB } from './runtime.ts';

describe('openDatabase', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facerec-db-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('logs ahead, syncs every commit and keeps a small page cache, on a new and on a reopened file', () => {
    const path = join(dir, 'sub', 'facerec.db');
    for (let open = 0; open < 2; open++) {
      const db = openDatabase(path);
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
        expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
        // Negative: KiB rather than pages. better-sqlite3's build default is -16000.
        expect(db.pragma('cache_size', { simple: true })).toBe(-PAGE_CACHE_KIB);
        db.exec('CREATE TABLE IF NOT EXISTS t (x BLOB)');
        db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096));
      } finally {
        db.close();
      }
    }
  });
});
