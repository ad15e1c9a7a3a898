// Face quality in the facebank, against the real pool and real photos: poor photos are refused over the API,
// flagged (kept, not matched) in the folders, judged again from the cache at another limit, and analyses cached
// before quality existed are recomputed rather than misread.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { blur } from '../test/support/degrade.ts';
import { personImage } from '../test/support/testdata.ts';
import { bankOptions, openBank, openDb, seed, usePool, useTempDirs } from './testing.ts';
import { FacebankError } from './types.ts';

const { pool, counting } = usePool();
const tempDir = useTempDirs();

/** amy1 blurred as a moving head at a slow shutter would blur it. */
const blurredAmy = async () => blur(await readFile(personImage('amy', 1)), 4);

describe('face quality in the facebank', () => {
  test('a poor photo is refused over the API with poor_quality and its reasons; nothing is written', async () => {
    const tmp = await tempDir();
    const db = openDb(join(tmp, 'facerec.db'));
    const fb = await openBank(bankOptions(join(tmp, 'facebank'), db, pool()));
    try {
      const err = await fb.addImage('amy', await blurredAmy(), 'amy-blurred.png').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FacebankError);
      expect((err as FacebankError).code).toBe('poor_quality');
      expect((err as FacebankError).message).toMatch(/^poor face: blurred \(blur 0\.\d\d; 0\.\d+ at most\)/);
      console.log(`refused: ${(err as FacebankError).message}`);
      expect(fb.people()).toEqual([]);
      const ok = await fb.addImage('amy', await readFile(personImage('amy', 1)), 'amy1.png');
      expect(ok.status).toBe('embedded');
    } finally {
      await fb.close();
      db.close();
    }
  });

  test('a poor photo in a folder is flagged with its reasons and is not a template; limit 0 uses it, from the cache', async () => {
    const tmp = await tempDir();
    const dir = join(tmp, 'facebank');
    await seed(dir, [1, 2], ['amy', 'raj']);
    await writeFile(join(dir, 'amy', 'amy-blurred.png'), await blurredAmy());
    const db = openDb(join(tmp, 'facerec.db'));
    let fb = await openBank(bankOptions(dir, db, pool()));
    const flagged = fb.person('amy').images.find((i) => i.file === 'amy-blurred.png');
    expect(flagged).toMatchObject({ status: 'poor_quality' });
    expect(flagged?.message).toMatch(/^poor face: blurred .*; not used for matching$/);
    expect(fb.stats()).toMatchObject({ images: 5, templates: 4 });
    expect(fb.stats().byStatus.poor_quality).toBe(1);
    await fb.close();

    const analyzer = counting();
    fb = await openBank(bankOptions(dir, db, analyzer, { minQuality: 0 }));
    expect(analyzer.calls).toBe(0);
    expect(fb.person('amy').images.map((i) => i.status)).toEqual(['embedded', 'embedded', 'embedded']);
    expect(fb.stats()).toMatchObject({ images: 5, templates: 5 });
    await fb.close();
    db.close();
  });

  test('analyses cached before face quality existed are analysed again, not misread', async () => {
    const tmp = await tempDir();
    const dir = join(tmp, 'facebank');
    await seed(dir, [1, 2], ['penny']);
    await mkdir(join(dir, 'amy'));
    await writeFile(join(dir, 'amy', 'amy-blurred.png'), await blurredAmy());
    const db = openDb(join(tmp, 'facerec.db'));
    let fb = await openBank(bankOptions(dir, db, pool()));
    const statuses = fb.people().flatMap((p) => p.images.map((i) => i.status));
    await fb.close();
    // The table as an earlier version made it: no quality column.
    db.exec('ALTER TABLE facebank_analyses DROP COLUMN quality');

    const analyzer = counting();
    fb = await openBank(bankOptions(dir, db, analyzer));
    expect(analyzer.calls).toBe(3);
    expect(fb.people().flatMap((p) => p.images.map((i) => i.status))).toEqual(statuses);
    expect(statuses).toEqual(['poor_quality', 'embedded', 'embedded']);
    const rows = db.prepare('SELECT quality FROM facebank_analyses').all() as { quality: string | null }[];
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(JSON.parse(r.quality!)).toHaveProperty('blur');
    await fb.close();
    db.close();
  });
});
