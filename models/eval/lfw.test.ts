// End-to-end verification accuracy on LFW View 1 with the real models: threshold fitted on pairsDevTrain,
// accuracy measured on pairsDevTest. Embeds all 4,992 images once, so it is the slowest test by far.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFaceModels } from '../../test/support/models.ts';
import { LFW_DEV_DIR } from '../../test/support/testdata.ts';
import type { DetectedFace } from '../mtcnn/detector.ts';
import { defaultFacePoolSettings, FacePool } from '../pool/facePool.ts';
import {
  centralFace,
  evaluateLfw,
  type LfwCentralFace,
  type LfwReport,
  NO_FACE_SCORE,
  ratesAt,
  scorePairs,
} from './lfw.ts';
import { parsePairs } from './verification.ts';

describe('LFW scoring helpers', () => {
  const face = (x1: number, y1: number, x2: number, y2: number): DetectedFace => ({
    box: { x1, y1, x2, y2 },
    score: 1,
    landmarks: [],
  });

  it('takes the face whose box centre is nearest the image centre, not the largest', () => {
    const big = face(0, 0, 120, 120);
    const central = face(100, 100, 150, 150);
    expect(centralFace([big, central], 250, 250)).toBe(central);
    expect(centralFace([], 250, 250)).toBeUndefined();
  });

  it('scores pairs by cosine, and a pair with a faceless image as NO_FACE_SCORE', () => {
    const pairs = parsePairs('2\nA 1 2\nA 1 3\nA 1 B 1\nA 2 B 1\n');
    const unit = (...v: number[]) => Float32Array.from(v);
    const embeddings = new Map([
      ['A/A_0001.jpg', { embedding: unit(1, 0), fallback: false }],
      ['A/A_0002.jpg', { embedding: unit(0.6, 0.8), fallback: true }],
      ['A/A_0003.jpg', { embedding: undefined, fallback: false }],
      ['B/B_0001.jpg', { embedding: unit(0, 1), fallback: false }],
    ]);
    const s = scorePairs(pairs, embeddings);
    expect([...s.scores]).toEqual([expect.closeTo(0.6, 6), NO_FACE_SCORE, 0, expect.closeTo(0.8, 6)]);
    expect(s.same).toEqual([true, true, false, false]);
    expect(s.withoutFace).toBe(1);
    expect(ratesAt(s.scores, s.same, 0.5)).toEqual({ tar: 0.5, far: 0.5 });
    expect(() => scorePairs(parsePairs('C 1 2'), embeddings)).toThrow(/C\/C_0001\.jpg was not embedded/);
  });
});

const models = await useFaceModels();

describe('LFW evaluation of several embedders on the same faces', () => {
  it('detects each image once and reuses its face', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lfw-faces-'));
    const pairsFile = join(dir, 'pairs.txt');
    writeFileSync(
      pairsFile,
      '2\nAaron_Peirsol\t1\t2\nAaron_Sorkin\t1\t2\nAaron_Sorkin\t2\tFrank_Solich\t5\nAaron_Peirsol\t1\tFrank_Solich\t5\n',
    );
    try {
      const faces = new Map<string, LfwCentralFace>();
      const run = () => evaluateLfw({ runner: models, dir: LFW_DEV_DIR, pairsFile, flip: false, faces });
      const first = await run();
      expect([...faces.keys()].sort()).toEqual([
        'Aaron_Peirsol/Aaron_Peirsol_0001.jpg',
        'Aaron_Peirsol/Aaron_Peirsol_0002.jpg',
        'Aaron_Sorkin/Aaron_Sorkin_0001.jpg',
        'Aaron_Sorkin/Aaron_Sorkin_0002.jpg',
        'Frank_Solich/Frank_Solich_0005.jpg',
      ]);
      expect(first.noFace).toEqual([]);
      // What the map says is what the next run embeds: an image taken to have no face is not detected again.
      faces.set('Frank_Solich/Frank_Solich_0005.jpg', { face: undefined, fallback: false });
      const second = await run();
      expect(second.noFace).toEqual(['Frank_Solich/Frank_Solich_0005.jpg']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LFW View 1 (pairsDevTest, threshold fitted on pairsDevTrain)', () => {
  let pool: FacePool | undefined;
  let report: LfwReport;

  beforeAll(async () => {
    // One worker per core, one intra-op thread each: the fastest way through ~5,000 images on a CPU.
    const settings = defaultFacePoolSettings();
    pool = await FacePool.start({ ...settings, maxQueue: 4 * settings.size });
    report = await evaluateLfw({
      runner: pool,
      dir: LFW_DEV_DIR,
      pairsFile: join(LFW_DEV_DIR, 'pairsDevTest.txt'),
      fitFile: join(LFW_DEV_DIR, 'pairsDevTrain.txt'),
      // What the server does by default (FLIP off), and about a quarter cheaper than with the mirrored crops.
      flip: false,
    });
    const t = report.threshold!;
    console.info(
      `LFW dev: accuracy ${(report.accuracy * 100).toFixed(2)}% at threshold ${t.value.toFixed(4)} ` +
        `(FAR fit ${(t.fit!.far * 100).toFixed(2)}%, test ${(t.test.far * 100).toFixed(2)}%), ` +
        `AUC ${report.test.auc.toFixed(5)}, no face ${report.noFace.length}, ` +
        `${report.images} images in ${report.embedSeconds.toFixed(0)} s on ${report.provider}`,
    );
  }, 15 * 60_000);

  afterAll(async () => {
    await pool?.close();
  });

  it('embeds every image the two files name, once each', () => {
    expect(report.protocol).toBe('fitted');
    expect(report.test.pairs).toBe(1000);
    expect(report.fit?.pairs).toBe(2200);
    expect(report.images).toBe(4992);
  });

  it('finds a face in more than 99% of the images', () => {
    expect(report.noFace.length).toBeLessThan(report.images * 0.01);
  });

  it('reaches at least 99.0% accuracy with the threshold fitted on the training pairs', () => {
    expect(report.accuracy).toBeGreaterThanOrEqual(0.99);
  });

  it('separates same from different pairs with ROC AUC above 0.99', () => {
    expect(report.test.auc).toBeGreaterThan(0.99);
    expect(report.fit!.auc).toBeGreaterThan(0.99);
  });

  it('keeps the fitted threshold’s false-accept rate low on both pair sets', () => {
    const t = report.threshold!;
    expect(t.value).toBeGreaterThan(0);
    expect(t.value).toBeLessThan(1);
    expect(t.fit!.far).toBeLessThan(0.02);
    expect(t.test.far).toBeLessThan(0.02);
  });

  it('says why TAR@FAR=1e-3 is not computable on 500 different pairs', () => {
    const tf = report.test.tarAtFar;
    expect(tf.computable).toBe(false);
    if (!tf.computable) expect(tf.reason).toMatch(/1000 different pairs.*there are 500/);
    // 1,100 different pairs allow exactly one false accept at FAR 1e-3.
    expect(report.fit!.tarAtFar.computable).toBe(true);
  });
});
