// Negative examples through the real Facebank and pool, on BBT photos: a face rejected for a person is not given
// that name again (nor are other photos of that face), the person's own faces are, and negatives persist in the
// database, follow renames, go with the person and are undone.
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { type Person, personImage } from '../test/support/testdata.ts';
import { UNKNOWN } from './matcher.ts';
import { NegativeStore } from './negatives.ts';
import { bankOptions, openBank, openDb, queryEmbedding, seed, usePool, useTempDirs } from './testing.ts';

const ENROLLED: Person[] = ['amy', 'howard', 'leonard', 'penny', 'raj', 'sheldon'];
/** Low on purpose: strangers get names, the mistake negatives correct. */
const LOW = 0.15;

describe('negative examples', () => {
  const { pool } = usePool();
  const tempDir = useTempDirs();

  test('veto a rejected face and other photos of it, keep the person, persist, rename, delete, undo', async () => {
    const dir = await tempDir();
    await seed(dir, [1, 2], ENROLLED);
    const dbPath = join(await tempDir(), 'fb.db');
    const db = openDb(dbPath);
    let fb = await openBank(bankOptions(dir, db, pool(), { threshold: LOW }));
    const stranger = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => queryEmbedding(pool(), personImage('bernadette', n))),
    );
    const wrong = fb.match(stranger[0]!).name;
    expect(ENROLLED).toContain(wrong);
    const own = await Promise.all([1, 3, 4, 5].map((n) => queryEmbedding(pool(), personImage(wrong as Person, n))));

    const { negative, created } = await fb.addNegative(wrong, stranger[0]!, { kind: 'event', eventId: 7 });
    expect(created).toBe(true);
    expect((await fb.addNegative(wrong, stranger[0]!, { kind: 'event', eventId: 7 })).created).toBe(false);
    const check = () => {
      const m = fb.match(stranger[0]!);
      expect(m.name).not.toBe(wrong);
      expect(m.vetoed?.map((v) => [v.person, v.negativeId])).toEqual([[wrong, negative.id]]);
      expect(stranger.map((e) => fb.match(e).name)).not.toContain(wrong);
      // Photo 1 is a template: a negative can never hide it; the others are nearer their own templates.
      expect(own.map((e) => fb.match(e).name)).toEqual([wrong, wrong, wrong, wrong]);
    };
    check();

    // Another process (a restart) reads them back; another model id does not see them.
    await fb.close();
    fb = await openBank(bankOptions(dir, db, pool(), { threshold: LOW }));
    check();
    expect(new NegativeStore(db, 'another-model@0').list(wrong)).toEqual([]);

    await fb.renamePerson(wrong, 'renamed');
    expect(fb.negatives('renamed').map((n) => n.id)).toEqual([negative.id]);
    expect(fb.match(stranger[0]!).vetoed?.[0]?.person).toBe('renamed');

    await fb.removeNegative('renamed', negative.id);
    expect(fb.match(stranger[0]!).name).toBe('renamed');
    await expect(fb.removeNegative('renamed', negative.id)).rejects.toMatchObject({ code: 'negative_not_found' });

    await fb.addNegative('renamed', stranger[0]!, { kind: 'event', eventId: 8 });
    await fb.deletePerson('renamed');
    expect(new NegativeStore(db, 'mobilefacenet@test').people()).toEqual([]);
    await fb.close();
    db.close();
  });

  test('a rename cut short between the folder and the database keeps the negatives', async () => {
    const dir = await tempDir();
    await seed(dir, [1], ['leonard']);
    const db = openDb(join(await tempDir(), 'fb.db'));
    let fb = await openBank(bankOptions(dir, db, pool()));
    const face = await queryEmbedding(pool(), personImage('bernadette', 1));
    const { negative } = await fb.addNegative('leonard', face, { kind: 'image', sha256: 'b'.repeat(64) });
    await fb.close();
    // What renamePerson had done when the process died: noted the rename, moved the folder, nothing more.
    new NegativeStore(db, 'mobilefacenet@test').beginRename('leonard', 'leo');
    await rename(join(dir, 'leonard'), join(dir, 'leo'));
    fb = await openBank(bankOptions(dir, db, pool()));
    expect(fb.negatives('leo').map((n) => n.id)).toEqual([negative.id]);
    await fb.close();
    // A rename noted whose folder never moved is forgotten: the negatives stay with the person.
    new NegativeStore(db, 'mobilefacenet@test').beginRename('leo', 'leonard');
    fb = await openBank(bankOptions(dir, db, pool()));
    expect(fb.negatives('leo').map((n) => n.id)).toEqual([negative.id]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM facebank_negatives_renames').get()).toEqual({ n: 0 });
    await fb.close();
    db.close();
  });

  test('with only the rejected person enrolled, the face falls to Unknown', async () => {
    const dir = await tempDir();
    await seed(dir, [1, 2], ['leonard']);
    const db = openDb(':memory:');
    const fb = await openBank(bankOptions(dir, db, pool(), { threshold: LOW }));
    const face = await queryEmbedding(pool(), personImage('bernadette', 1));
    expect(fb.match(face).name).toBe('leonard');
    await fb.addNegative('leonard', face, { kind: 'image', sha256: 'a'.repeat(64) });
    expect(fb.match(face)).toMatchObject({ name: UNKNOWN, vetoed: [{ person: 'leonard' }] });
    await fb.close();
    db.close();
  });
});

describe('negatives numbered by a shared database (cluster mode)', () => {
  const unit = (k: number) => Float32Array.from({ length: 128 }, (_, i) => (i === k ? 1 : 0));

  test('are stored under the given id and time, kept across a restart, and replace our own of the same face', () => {
    const db = openDb(':memory:');
    const store = new NegativeStore(db, 'mobilefacenet@test');
    const own = store.add('amy', unit(0), { kind: 'event', eventId: 7 }).negative;
    const given = { id: 2 ** 40 + 3, createdAt: 1_700_000_000_000 };
    const shared = store.add('amy', unit(0), { kind: 'event', eventId: 7 }, given);
    expect(shared).toEqual({
      negative: { ...given, person: 'amy', source: { kind: 'event', eventId: 7 } },
      created: true,
    });
    // The same face given again is the same negative; the node's own one of it is gone.
    expect(store.add('amy', unit(0), { kind: 'event', eventId: 7 }, given).created).toBe(false);
    expect(store.list('amy').map((n) => n.id)).toEqual([given.id]);
    expect(store.remove('amy', own.id)).toBe(false);
    const again = new NegativeStore(db, 'mobilefacenet@test');
    expect(again.all()).toEqual([shared.negative]);
    expect(again.veto('amy', unit(0), [unit(1)])?.negativeId).toBe(given.id);
    db.close();
  });
});
