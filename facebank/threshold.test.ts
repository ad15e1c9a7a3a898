// The operating point in a real facebank: derived from FPIR and the number of people, re-derived when people
// are added, and overridden by an explicit threshold.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readManifest } from '../models/manifest.ts';
import { personImage } from '../test/support/testdata.ts';
import { loadCalibration } from './calibration.ts';
import { bankOptions, openBank, openDb, queryEmbedding, seed, usePool, useTempDirs } from './testing.ts';

describe('the threshold in force', () => {
  const { pool } = usePool();
  const tempDir = useTempDirs();
  const calibration = loadCalibration(readManifest()!.models.mobilefacenet!.sha256);

  it('is derived for FPIR 1% at the current size and rises when a person is added', async () => {
    const dir = await tempDir();
    await seed(dir, [1, 2], ['amy', 'howard', 'raj']);
    const fb = await openBank(bankOptions(dir, openDb(':memory:'), pool(), { threshold: undefined, calibration }));
    try {
      const three = fb.operatingPoint;
      expect(three).toMatchObject({ source: 'calibration', fpir: 0.01, people: 3 });
      expect(three.reason).toBe("FPIR 1% at 3 people: the model's calibration");
      await fb.addImage('penny', await readFile(personImage('penny', 1)));
      const four = fb.operatingPoint;
      expect(four.people).toBe(4);
      expect(four.threshold).toBeGreaterThan(three.threshold);
      const m = fb.match(await queryEmbedding(pool(), personImage('raj', 4)));
      expect(m).toMatchObject({ name: 'raj', threshold: four.threshold });
    } finally {
      await fb.close();
    }
  });

  it('is MATCH_THRESHOLD when one is set', async () => {
    const dir = await tempDir();
    await seed(dir, [1], ['amy', 'raj']);
    const fb = await openBank(bankOptions(dir, openDb(':memory:'), pool(), { threshold: 0.9, calibration }));
    try {
      expect(fb.operatingPoint).toMatchObject({ threshold: 0.9, source: 'override', people: 2 });
      expect(fb.match(await queryEmbedding(pool(), personImage('raj', 4))).name).toBe('Unknown');
    } finally {
      await fb.close();
    }
  });
});
