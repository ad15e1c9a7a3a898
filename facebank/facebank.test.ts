// The facebank against the real models (FacePool), a real SQLite file and real folders in temp directories.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PEOPLE, type Person, personImage, SCENES } from '../test/support/testdata.ts';
import type { Facebank, LoadProgress } from './facebank.ts';
import { analysisKey } from './store.ts';
import {
  bankOptions,
  changesDuring,
  nextChange,
  openBank,
  openDb,
  queryEmbedding,
  seed,
  THRESHOLD,
  usePool,
  useTempDirs,
} from './testing.ts';
import { FacebankError, type FacebankErrorCode } from './types.ts';

const { pool, counting } = usePool();
const tempDir = useTempDirs();

async function errorCode(p: Promise<unknown> | (() => unknown)): Promise<FacebankErrorCode | string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err instanceof FacebankError ? err.code : `${(err as Error).name}: ${(err as Error).message}`;
  }
  return 'no error';
}

/** Image files on disk, as `person/file`, ignoring dotfiles and other files. */
async function onDisk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const p of await readdir(dir, { withFileTypes: true })) {
    if (p.name.startsWith('.') || !p.isDirectory()) continue;
    for (const f of await readdir(join(dir, p.name))) {
      if (!f.startsWith('.') && /\.(png|jpe?g|webp)$/i.test(f)) out.push(`${p.name}/${f}`);
    }
  }
  return out.sort();
}

function inIndex(fb: Facebank): string[] {
  return fb
    .people()
    .flatMap((p) => p.images.map((i) => `${p.name}/${i.file}`))
    .sort();
}

function inDb(db: ReturnType<typeof openDb>): string[] {
  return (db.prepare('SELECT person, file FROM facebank_files').all() as { person: string; file: string }[])
    .map((r) => `${r.person}/${r.file}`)
    .sort();
}

/** Folder, in-memory index and the SQLite file index agree; every indexed image has its cached analysis. */
async function expectAgreement(fb: Facebank, db: ReturnType<typeof openDb>, dir: string): Promise<void> {
  const disk = await onDisk(dir);
  expect(inIndex(fb)).toEqual(disk);
  expect(inDb(db)).toEqual(disk);
  const people = (await readdir(dir, { withFileTypes: true }))
    .filter((p) => !p.name.startsWith('.') && p.isDirectory())
    .map((p) => p.name)
    .sort();
  expect(fb.people().map((p) => p.name)).toEqual(people);
  const row = db.prepare('SELECT status FROM facebank_analyses WHERE sha256 = ? AND model_id = ?');
  for (const p of fb.people())
    for (const i of p.images) expect(row.get(i.sha256, analysisKey('mobilefacenet@test'))).toBeDefined();
}

describe('recognition', () => {
  let dir: string;
  let db: ReturnType<typeof openDb>;
  let fb: Facebank;
  const queries: { person: Person; n: number; embedding: Float32Array }[] = [];

  beforeAll(async () => {
    const tmp = await tempDir();
    dir = join(tmp, 'facebank');
    await seed(dir, [1, 2]);
    db = openDb(join(tmp, 'facerec.db'));
    fb = await openBank(bankOptions(dir, db, pool(), { watch: true }));
    for (const person of PEOPLE) {
      for (const n of [3, 4, 5])
        queries.push({ person, n, embedding: await queryEmbedding(pool(), personImage(person, n)) });
    }
  });
  afterAll(async () => {
    await fb?.close();
    db?.close();
  });

  test('enrolling images 1–2 of each person names images 3–5', () => {
    expect(fb.stats()).toMatchObject({ people: 8, images: 16, templates: 16 });
    let correct = 0;
    const misses: string[] = [];
    for (const q of queries) {
      const m = fb.match(q.embedding);
      if (m.name === q.person) correct++;
      else misses.push(`${q.person}${q.n} → ${m.name} (candidate ${m.candidate}, score ${m.score.toFixed(3)})`);
      expect(m.score).toBeGreaterThanOrEqual(-1);
      expect(m.margin).toBeGreaterThanOrEqual(0);
    }
    console.log(
      `facebank recognition: ${correct}/24 named correctly at threshold ${THRESHOLD}; misses: ${misses.join('; ') || 'none'}`,
    );
    expect(correct).toBeGreaterThanOrEqual(22);
  });

  test('a person folder removed from disk disappears after the change event', async () => {
    const changed = nextChange(fb);
    await rm(join(dir, 'raj'), { recursive: true });
    expect((await changed).reason).toBe('rescan');
    expect(fb.people().map((p) => p.name)).not.toContain('raj');
    expect(fb.stats()).toMatchObject({ people: 7, images: 14, templates: 14 });
    const results = queries.filter((q) => q.person === 'raj').map((q) => fb.match(q.embedding));
    console.log(
      `raj removed: ${results.map((m) => `${m.name} (candidate ${m.candidate}, ${m.score.toFixed(3)})`).join('; ')}`,
    );
    expect(results.filter((m) => m.name === 'Unknown').length).toBeGreaterThanOrEqual(2);
    expect(results.filter((m) => m.name !== 'Unknown' && m.name !== 'raj').length).toBeLessThanOrEqual(1);
    expect(results.every((m) => m.candidate !== 'raj')).toBe(true);
    await expectAgreement(fb, db, dir);
  });
});

describe('score distributions on the bbt crops', () => {
  test('same-person vs different-person cosine similarities (all 40 crops, pairwise)', async () => {
    const embs: { p: Person; n: number; e: Float32Array }[] = [];
    for (const p of PEOPLE)
      for (const n of [1, 2, 3, 4, 5]) embs.push({ p, n, e: await queryEmbedding(pool(), personImage(p, n)) });
    const same: number[] = [];
    const diff: number[] = [];
    let minSame = { s: 2, what: '' };
    let maxDiff = { s: -2, what: '' };
    for (let i = 0; i < embs.length; i++) {
      for (let j = i + 1; j < embs.length; j++) {
        const a = embs[i]!;
        const b = embs[j]!;
        let s = 0;
        for (let k = 0; k < a.e.length; k++) s += a.e[k]! * b.e[k]!;
        const what = `${a.p}${a.n}~${b.p}${b.n}`;
        if (a.p === b.p) {
          same.push(s);
          if (s < minSame.s) minSame = { s, what };
        } else {
          diff.push(s);
          if (s > maxDiff.s) maxDiff = { s, what };
        }
      }
    }
    const q = (xs: number[], f: number) => [...xs].sort((x, y) => x - y)[Math.round(f * (xs.length - 1))]!.toFixed(3);
    console.log(
      `bbt crops: same person n=${same.length} min ${minSame.s.toFixed(3)} (${minSame.what}) p10 ${q(same, 0.1)} median ${q(same, 0.5)}; ` +
        `different n=${diff.length} median ${q(diff, 0.5)} p90 ${q(diff, 0.9)} p99 ${q(diff, 0.99)} max ${maxDiff.s.toFixed(3)} (${maxDiff.what}); ` +
        `same below ${THRESHOLD}: ${same.filter((s) => s < THRESHOLD).length}, different at or above: ${diff.filter((s) => s >= THRESHOLD).length}`,
    );
    expect(same.length).toBe(80);
  });
});

describe('cache', () => {
  test('reopening analyses nothing; a replaced image is the only one analysed; a new model id recomputes', async () => {
    const tmp = await tempDir();
    const dir = join(tmp, 'facebank');
    await seed(dir, [1, 2]);
    const db = openDb(join(tmp, 'facerec.db'));
    try {
      const first = counting();
      const progress: LoadProgress[] = [];
      let fb = await openBank(bankOptions(dir, db, first), progress);
      expect(first.calls).toBe(16);
      expect(progress[0]).toEqual({ done: 0, total: 16, cached: 0 });
      expect(progress.at(-1)).toEqual({ done: 16, total: 16, cached: 0 });
      const before = fb.people();
      await fb.close();

      const second = counting();
      progress.length = 0;
      fb = await openBank(bankOptions(dir, db, second), progress);
      expect(second.calls).toBe(0);
      expect(progress.at(-1)).toEqual({ done: 16, total: 16, cached: 16 });
      expect(fb.people()).toEqual(before);

      // Replace one image's content (same name): only it is analysed, by rescan and on the next start.
      await copyFile(personImage('amy', 3), join(dir, 'amy', 'amy1.png'));
      await fb.rescan();
      expect(second.calls).toBe(1);
      const amy1 = fb.person('amy').images.find((i) => i.file === 'amy1.png')!;
      expect(amy1.sha256).not.toBe(before[0]!.images[0]!.sha256);
      await fb.close();

      await copyFile(personImage('amy', 4), join(dir, 'amy', 'amy2.png'));
      const third = counting();
      fb = await openBank(bankOptions(dir, db, third));
      expect(third.calls).toBe(1);
      await fb.close();

      const other = counting();
      fb = await openBank(bankOptions(dir, db, other, { modelId: 'mobilefacenet@other' }));
      expect(other.calls).toBe(16);
      await fb.close();
      const rows = db.prepare('SELECT model_id, COUNT(*) AS n FROM facebank_analyses GROUP BY model_id').all();
      expect(rows).toEqual([
        { model_id: analysisKey('mobilefacenet@other'), n: 16 },
        { model_id: analysisKey('mobilefacenet@test'), n: 18 },
      ]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });
});

describe('watcher', () => {
  let tmp: string;
  let dir: string;
  let db: ReturnType<typeof openDb>;
  let fb: Facebank;
  let analyzer: ReturnType<typeof counting>;

  beforeAll(async () => {
    tmp = await tempDir();
    dir = join(tmp, 'facebank');
    await seed(dir, [1, 2], ['amy', 'penny', 'sheldon']);
    db = openDb(join(tmp, 'facerec.db'));
    analyzer = counting();
    fb = await openBank(bankOptions(dir, db, analyzer, { watch: true }));
    expect(analyzer.calls).toBe(6);
  });
  afterAll(async () => {
    await fb?.close();
    db?.close();
  });

  test('an added image takes effect without a restart', async () => {
    const changed = nextChange(fb);
    await copyFile(personImage('amy', 3), join(dir, 'amy', 'amy3.png'));
    await changed;
    expect(fb.person('amy').images.map((i) => i.file)).toEqual(['amy1.png', 'amy2.png', 'amy3.png']);
    expect(analyzer.calls).toBe(7);
  });

  test('a replaced image is re-analysed', async () => {
    const old = fb.person('amy').images[2]!.sha256;
    const changed = nextChange(fb);
    await copyFile(personImage('amy', 4), join(dir, 'amy', 'amy3.png'));
    await changed;
    expect(fb.person('amy').images[2]!.sha256).not.toBe(old);
    expect(analyzer.calls).toBe(8);
  });

  test('a renamed person folder keeps its images without analysis, and later changes inside it are seen', async () => {
    let changed = nextChange(fb);
    await rename(join(dir, 'amy'), join(dir, 'Amy Farrah Fowler'));
    await changed;
    expect(fb.people().map((p) => p.name)).toEqual(['Amy Farrah Fowler', 'penny', 'sheldon']);
    expect(fb.person('Amy Farrah Fowler').images).toHaveLength(3);
    expect(await errorCode(() => fb.person('amy'))).toBe('person_not_found');
    expect(analyzer.calls).toBe(8);
    // Node 20's recursive fs.watch misses this one (see watcher.ts).
    changed = nextChange(fb);
    await copyFile(personImage('amy', 5), join(dir, 'Amy Farrah Fowler', 'amy5.png'));
    await changed;
    expect(fb.person('Amy Farrah Fowler').images).toHaveLength(4);
  });

  test('a new person folder, and removed images, take effect', async () => {
    let changed = nextChange(fb);
    await mkdir(join(dir, 'raj'));
    await copyFile(personImage('raj', 1), join(dir, 'raj', 'raj1.png'));
    await changed;
    if (fb.person('raj').images.length === 0) await nextChange(fb); // the folder and its file may come in two scans
    expect(fb.person('raj').images.map((i) => i.file)).toEqual(['raj1.png']);
    changed = nextChange(fb);
    await rm(join(dir, 'penny', 'penny2.png'));
    await changed;
    expect(fb.person('penny').images.map((i) => i.file)).toEqual(['penny1.png']);
    await expectAgreement(fb, db, dir);
  });

  test('dotfiles, other files and symlinks are ignored', async () => {
    const n = changesDuring(fb, 1200);
    await writeFile(join(dir, 'penny', '.hidden.png'), await readFile(personImage('penny', 2)));
    await writeFile(join(dir, 'penny', 'notes.txt'), 'hello');
    await mkdir(join(dir, '.trash'));
    await symlink(join(tmp, 'elsewhere'), join(dir, 'linked'));
    expect(await n).toBe(0);
    expect(fb.people().map((p) => p.name)).toEqual(['Amy Farrah Fowler', 'penny', 'raj', 'sheldon']);
  });

  test('enrolment through the API emits one change, and the watcher does not add another', async () => {
    const n = changesDuring(fb, 1500);
    const image = await fb.addImage('sheldon', await readFile(personImage('sheldon', 3)), 'sheldon3.png');
    expect(image.status).toBe('embedded');
    expect(await n).toBe(1);
    await expectAgreement(fb, db, dir);
  });
});

describe('enrolment', () => {
  let tmp: string;
  let dir: string;
  let db: ReturnType<typeof openDb>;
  let fb: Facebank;
  let analyzer: ReturnType<typeof counting>;

  beforeAll(async () => {
    tmp = await tempDir();
    dir = join(tmp, 'facebank');
    await seed(dir, [1], ['howard']);
    // Leftovers of an interrupted write and delete are removed at start-up.
    await writeFile(join(dir, 'howard', '.facebank-tmp-0123456789abcdef'), 'half an image');
    await mkdir(join(dir, '.facebank-deleting-0123456789abcdef', 'x'), { recursive: true });
    db = openDb(join(tmp, 'facerec.db'));
    analyzer = counting();
    fb = await openBank(bankOptions(dir, db, analyzer, { watch: true }));
  });
  afterAll(async () => {
    await fb?.close();
    db?.close();
  });

  test('start-up removed the leftovers', async () => {
    expect(await readdir(dir)).toEqual(['howard']);
    expect(await readdir(join(dir, 'howard'))).toEqual(['howard1.png']);
  });

  test('create a person', async () => {
    expect(await fb.createPerson('  Penny ')).toEqual({ name: 'Penny', images: [] });
    expect(await readdir(join(dir, 'Penny'))).toEqual([]);
    expect(await errorCode(fb.createPerson('Penny'))).toBe('person_exists');
    expect(fb.person('Penny')).toEqual({ name: 'Penny', images: [] });
    await expectAgreement(fb, db, dir);
  });

  test('add images: kept names, suffixes for other content, same content once, hash names', async () => {
    const penny1 = await readFile(personImage('penny', 1));
    const penny2 = await readFile(personImage('penny', 2));
    const a = await fb.addImage('Penny', penny1, 'Penny at work.PNG');
    expect(a).toMatchObject({ person: 'Penny', file: 'Penny at work.png', status: 'embedded' });
    expect(a.message).toBeUndefined();
    expect(await readFile(join(dir, 'Penny', 'Penny at work.png'))).toEqual(penny1);
    const b = await fb.addImage('Penny', penny2, 'Penny at work.png');
    expect(b.file).toBe('Penny at work-2.png');
    expect(await fb.addImage('Penny', penny1, 'again.png')).toEqual(a);
    const c = await fb.addImage('Penny', await readFile(personImage('penny', 3)));
    expect(c.file).toMatch(/^[0-9a-f]{16}\.png$/);
    expect(c.sha256.startsWith(c.file.slice(0, 16))).toBe(true);
    const d = await fb.addImage('Penny', await readFile(personImage('penny', 4)), '../../../etc/passwd.png');
    expect(d.file).toBe('passwd.png');
    const jpeg = await sharp(personImage('penny', 5)).jpeg().toBuffer();
    const e = await fb.addImage('Penny', jpeg, 'penny5.png');
    expect(e.file).toBe('penny5.jpg');
    // Sorted by code unit (upper case before lower case).
    const expected = ['Penny at work.png', 'Penny at work-2.png', c.file, 'passwd.png', 'penny5.jpg'];
    expect(fb.person('Penny').images.map((i) => i.file)).toEqual(expected.sort());
    expect(fb.match(await queryEmbedding(pool(), personImage('penny', 1))).name).toBe('Penny');
    await expectAgreement(fb, db, dir);
  });

  test('adding to a missing person creates the folder', async () => {
    const img = await fb.addImage('Stuart', await readFile(personImage('stuart', 1)), 'stuart1.png');
    expect(img.person).toBe('Stuart');
    expect(await readdir(join(dir, 'Stuart'))).toEqual(['stuart1.png']);
    await expectAgreement(fb, db, dir);
  });

  test('a failing change listener does not turn a written enrolment into an error', async () => {
    const throwing = () => {
      throw new Error('listener bug');
    };
    fb.on('changed', throwing);
    try {
      const img = await fb.addImage('Stuart', await readFile(personImage('stuart', 2)), 'stuart2.png');
      expect(img).toMatchObject({ person: 'Stuart', file: 'stuart2.png', status: 'embedded' });
    } finally {
      fb.off('changed', throwing);
    }
    expect(await readdir(join(dir, 'Stuart'))).toEqual(['stuart1.png', 'stuart2.png']);
    await expectAgreement(fb, db, dir);
  });

  test('random bytes, truncated images and unsupported formats are invalid_image and not written', async () => {
    const before = await onDisk(dir);
    expect(await errorCode(fb.addImage('Penny', randomBytes(4096), 'noise.png'))).toBe('invalid_image');
    expect(await errorCode(fb.addImage('Penny', new Uint8Array(0)))).toBe('invalid_image');
    const png = await readFile(personImage('penny', 2));
    const truncated = png.subarray(0, 300);
    const err = await fb.addImage('Nobody', truncated, 'cut.png').catch((e: unknown) => e as FacebankError);
    expect(err).toBeInstanceOf(FacebankError);
    expect((err as FacebankError).code).toBe('invalid_image');
    console.log(`truncated PNG: ${(err as FacebankError).message}`);
    const gif = await sharp(personImage('penny', 2)).gif().toBuffer();
    expect(await errorCode(fb.addImage('Penny', gif, 'penny.gif'))).toBe('invalid_image');
    expect(await onDisk(dir)).toEqual(before);
    expect(fb.people().map((p) => p.name)).not.toContain('Nobody');
    await expectAgreement(fb, db, dir);
  });

  test('a group photo is several_faces and not written', async () => {
    const before = await onDisk(dir);
    const err = await fb.addImage('Penny', await readFile(SCENES[0]!), 'bbt1.jpg').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FacebankError);
    expect((err as FacebankError).code).toBe('several_faces');
    expect((err as FacebankError).message).toMatch(
      /^\d+ faces of similar size and none is clearly the subject \(they are small in the picture, as in a group photo\); crop the image to one person$/,
    );
    console.log(`group photo: ${(err as FacebankError).message}`);
    expect(await onDisk(dir)).toEqual(before);
  });

  test('remove an image', async () => {
    await fb.removeImage('Penny', 'passwd.png');
    expect(fb.person('Penny').images.map((i) => i.file)).not.toContain('passwd.png');
    expect(await errorCode(fb.removeImage('Penny', 'passwd.png'))).toBe('image_not_found');
    expect(await errorCode(fb.removeImage('Nobody', 'x.png'))).toBe('person_not_found');
    await expectAgreement(fb, db, dir);
  });

  test('rename a person', async () => {
    const images = fb.person('Penny').images;
    const renamed = await fb.renamePerson('Penny', 'Penny Hofstadter');
    expect(renamed.images.map((i) => i.file)).toEqual(images.map((i) => i.file));
    expect(renamed.images.every((i) => i.person === 'Penny Hofstadter')).toBe(true);
    expect(await errorCode(() => fb.person('Penny'))).toBe('person_not_found');
    expect(await errorCode(fb.renamePerson('Penny Hofstadter', 'howard'))).toBe('person_exists');
    expect(await errorCode(fb.renamePerson('Penny', 'x'))).toBe('person_not_found');
    expect(fb.match(await queryEmbedding(pool(), personImage('penny', 1))).name).toBe('Penny Hofstadter');
    await expectAgreement(fb, db, dir);
  });

  test('delete a person', async () => {
    await fb.deletePerson('Stuart');
    expect(await readdir(dir)).toEqual(['Penny Hofstadter', 'howard']);
    expect(await errorCode(fb.deletePerson('Stuart'))).toBe('person_not_found');
    await expectAgreement(fb, db, dir);
  });

  test('invalid names are rejected everywhere', async () => {
    for (const bad of ['../x', 'a/b', '.', '..', '', '\u0000x', '.hidden']) {
      expect(await errorCode(fb.createPerson(bad)), bad).toBe('invalid_name');
      expect(await errorCode(fb.addImage(bad, new Uint8Array([1]))), bad).toBe('invalid_name');
      expect(await errorCode(fb.removeImage('howard', bad)), bad).toBe('invalid_name');
      expect(await errorCode(fb.removeImage(bad, 'howard1.png')), bad).toBe('invalid_name');
      expect(await errorCode(fb.renamePerson('howard', bad)), bad).toBe('invalid_name');
      expect(await errorCode(fb.renamePerson(bad, 'x')), bad).toBe('invalid_name');
      expect(await errorCode(fb.deletePerson(bad)), bad).toBe('invalid_name');
      expect(await errorCode(() => fb.imagePath(bad, 'howard1.png')), bad).toBe('invalid_name');
      expect(await errorCode(() => fb.imagePath('howard', bad)), bad).toBe('invalid_name');
    }
    expect(await readdir(dir)).toEqual(['Penny Hofstadter', 'howard']);
  });

  test('imagePath gives indexed images only', async () => {
    expect(fb.imagePath('howard', 'howard1.png')).toBe(join(fb.dir, 'howard', 'howard1.png'));
    expect(await errorCode(() => fb.imagePath('howard', 'howard2.png'))).toBe('image_not_found');
    expect(await errorCode(() => fb.imagePath('nobody', 'howard1.png'))).toBe('person_not_found');
  });

  test('enrolment calls serialize with rescans', async () => {
    const bytes = await Promise.all([2, 3, 4].map((n) => readFile(personImage('howard', n))));
    const results = await Promise.all([
      fb.rescan(),
      ...bytes.map((b) => fb.addImage('howard', b, 'howard.png')),
      fb.rescan(),
      fb.renamePerson('howard', 'Howard Wolowitz'),
    ]);
    // In call order: the three adds, then the rename.
    expect(results.slice(1, 4).map((r) => (r as { file: string }).file)).toEqual([
      'howard.png',
      'howard-2.png',
      'howard-3.png',
    ]);
    expect(fb.person('Howard Wolowitz').images).toHaveLength(4);
    expect(await errorCode(() => fb.person('howard'))).toBe('person_not_found');
    await expectAgreement(fb, db, dir);
  });

  test('after close, enrolment is refused and matching still answers', async () => {
    const e = await queryEmbedding(pool(), personImage('howard', 5));
    await fb.close();
    expect(await errorCode(fb.createPerson('x'))).toMatch(/closed/);
    expect(fb.match(e).candidate).toBeDefined();
  });
});
