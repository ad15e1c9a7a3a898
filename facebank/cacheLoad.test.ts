// Requirement: a 1,000-image facebank loads from the SQLite cache in under 2 s.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { PEOPLE, personImage } from '../test/support/testdata.ts';
import type { Facebank } from './facebank.ts';
import { bankOptions, openBank, openDb, queryEmbedding, usePool, useTempDirs } from './testing.ts';

const { pool, counting } = usePool();
const tempDir = useTempDirs();

const IMAGES = 1000;
const PER_PERSON = 10;

/** A valid PNG that differs from `png` only by a tEXt chunk before IEND (so its sha256 is new). */
function withTextChunk(png: Buffer, text: string): Buffer {
  const data = Buffer.from(`Comment\0${text}`, 'latin1');
  const typeAndData = Buffer.concat([Buffer.from('tEXt', 'latin1'), data]);
  const chunk = Buffer.alloc(12 + data.length);
  chunk.writeUInt32BE(data.length, 0);
  typeAndData.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(typeAndData), 8 + data.length);
  const iend = png.length - 12;
  if (png.toString('latin1', iend + 4, iend + 8) !== 'IEND') throw new Error('IEND is not the last chunk');
  return Buffer.concat([png.subarray(0, iend), chunk, png.subarray(iend)]);
}

let dir: string;
let db: ReturnType<typeof openDb>;

beforeAll(async () => {
  const tmp = await tempDir();
  dir = join(tmp, 'facebank');
  db = openDb(join(tmp, 'facerec.db'));
  const sources = await Promise.all(PEOPLE.flatMap((p) => [1, 2, 3, 4, 5].map((n) => readFile(personImage(p, n)))));
  for (let i = 0; i < IMAGES; i++) {
    const person = `person ${String(Math.floor(i / PER_PERSON)).padStart(3, '0')}`;
    if (i % PER_PERSON === 0) await mkdir(join(dir, person), { recursive: true });
    await writeFile(
      join(dir, person, `img${String(i).padStart(4, '0')}.png`),
      withTextChunk(sources[i % sources.length]!, `copy ${i}`),
    );
  }
});
afterAll(() => db?.close());

test('1,000 images: a first load analyses them all, a second loads from the cache in < 2 s', async () => {
  const first = counting();
  let t = performance.now();
  let fb: Facebank = await openBank(bankOptions(dir, db, first, { concurrency: 4 }));
  const firstMs = performance.now() - t;
  expect(first.calls).toBe(IMAGES);
  const stats = fb.stats();
  expect(stats.images).toBe(IMAGES);
  expect(stats.people).toBe(IMAGES / PER_PERSON);
  await fb.close();

  const second = counting();
  const progress: { done: number; total: number; cached: number }[] = [];
  t = performance.now();
  fb = await openBank(bankOptions(dir, db, second, { watch: true }), progress);
  const cachedMs = performance.now() - t;
  try {
    expect(second.calls).toBe(0);
    expect(fb.stats()).toEqual(stats);
    expect(progress.at(-1)).toEqual({ done: IMAGES, total: IMAGES, cached: IMAGES });

    // Matching one face against 1,000 templates.
    const e = await queryEmbedding(pool(), personImage('amy', 3));
    const rounds = 2000;
    t = performance.now();
    for (let i = 0; i < rounds; i++) fb.match(e);
    const matchUs = ((performance.now() - t) / rounds) * 1000;

    console.log(
      `1,000-image facebank (${stats.templates} templates): first load ${Math.round(firstMs)} ms (all analysed, ` +
        `concurrency 4, pool of 2), load from cache ${Math.round(cachedMs)} ms (watch on), match ${matchUs.toFixed(1)} µs/face`,
    );
    expect(cachedMs).toBeLessThan(2000);
  } finally {
    await fb.close();
  }
}, 300_000);
