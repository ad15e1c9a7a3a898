// Open-set identification at the default operating point on real photos: 300 people of the LFW dev split
// enrolled through the real facebank and pool (2 photos each), one more photo of each as a probe, and 600
// photos of people who are not enrolled as strangers. The full table is `npm run eval:openset`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../models/manifest.ts';
import { FacePool } from '../../models/pool/facePool.ts';
import { DEFAULT_MIN_QUALITY } from '../../models/quality.ts';
import { LFW_DEV_DIR } from '../../test/support/testdata.ts';
import { loadCalibration } from '../calibration.ts';
import { evaluateOpenSet, type OpenSetSize } from './openset.ts';
import { ENROLLED, readIdentities, sampleGallery, splitIdentities } from './opensetSplit.ts';
import { probeFaces } from './probeEmbeddings.ts';

const PEOPLE = 300;
const STRANGERS = 600;
/** The server's defaults (server/config.ts). */
const DEFAULTS = { fpir: 0.01, minFaceSize: 20, maxPixels: 40_000_000, flip: false };

describe(`open-set identification: ${PEOPLE} LFW dev people enrolled, ${STRANGERS} strangers`, () => {
  let pool: FacePool | undefined;
  let dir: string | undefined;
  let db: Database.Database | undefined;
  let result: OpenSetSize;

  beforeAll(async () => {
    const root = join(LFW_DEV_DIR, 'images');
    const full = splitIdentities(readIdentities(root));
    const gallery = sampleGallery(full.gallery, PEOPLE, 11).map((i) => ({ ...i, images: i.images.slice(0, 3) }));
    const strangers = sampleGallery(
      full.others.flatMap((i) => i.images.map((path) => ({ name: i.name, images: [path] }))),
      STRANGERS,
      12,
    );
    const split = { gallery, others: strangers };
    pool = await FacePool.start({
      provider: 'cpu',
      size: 2,
      intraOpThreads: 1,
      maxQueue: 64,
      embedder: 'mobilefacenet',
    });
    dir = await mkdtemp(join(tmpdir(), 'facerec-openset-'));
    db = new Database(join(dir, 'facebank.db'));
    const sha256 = readManifest()!.models.mobilefacenet!.sha256;
    const modelId = `mobilefacenet@${sha256.slice(0, 16)}`;
    const paths = [...gallery.flatMap((i) => i.images.slice(ENROLLED)), ...strangers.flatMap((i) => i.images)];
    const faces = await probeFaces({
      pool,
      root,
      paths,
      modelId,
      settings: DEFAULTS,
      cacheFile: join(dir, 'probes.json'),
      concurrency: 4,
    });
    const embeddings = new Map([...faces].map(([p, f]) => [p, f?.embedding]));
    const calibration = loadCalibration(sha256);
    expect(calibration, 'the shipped model has a committed calibration').toBeDefined();
    [result] = (await evaluateOpenSet({
      split,
      root,
      embeddings,
      quality: { measures: new Map([...faces].map(([p, f]) => [p, f?.quality])) },
      bank: {
        db,
        analyzer: pool,
        modelId,
        fpir: DEFAULTS.fpir,
        calibration,
        maxPixels: DEFAULTS.maxPixels,
        flip: false,
        minQuality: DEFAULT_MIN_QUALITY,
      },
      scratchDir: dir,
      sizes: [PEOPLE],
      seed: 1,
    })) as [OpenSetSize];
    const r = result.atOperatingPoint;
    console.log(
      `open-set, ${result.people} people: threshold ${r.threshold.toFixed(3)} (${result.operatingPoint.source}); ` +
        `named ${r.named}/${r.probes} probes, ${r.falseNames}/${r.strangers} strangers`,
    );
  }, 900_000);

  afterAll(async () => {
    db?.close();
    await pool?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('derives the threshold from FPIR 1% at the facebank size, from the calibration', () => {
    expect(result.operatingPoint.source).toBe('calibration');
    expect(result.operatingPoint.people).toBeGreaterThanOrEqual(295);
    // Far stricter than the 0.4 that named nearly every stranger once hundreds of people were enrolled.
    expect(result.operatingPoint.threshold).toBeGreaterThan(0.55);
  });

  // Measured: 6 of 600 strangers named (1.0%), 292 of 300 probes (97.3%). The run is deterministic; the bars
  // leave one stranger and two probes of room for a different CPU's rounding.
  it('gives a name to at most 1.2% of strangers (the 1% target: measured 6 of 600)', () => {
    expect(result.strangers).toBe(STRANGERS);
    expect(result.atOperatingPoint.fpir).toBeLessThanOrEqual(0.012);
  });

  it("names at least 96.5% of the enrolled people from a photo not enrolled (the issue's bar)", () => {
    expect(result.probes).toBe(PEOPLE);
    expect(result.atOperatingPoint.dir).toBeGreaterThanOrEqual(0.965);
  });
});
