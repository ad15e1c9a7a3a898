// End-to-end verification accuracy on LFW View 1 with the real models: threshold fitted on pairsDevTrain,
// accuracy measured on pairsDevTest. Embeds all 4,992 images once, so it is the slowest test by far.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LFW_DEV_DIR } from '../../test/support/testdata.ts';
import { type FaceModels, loadFaceModels, releaseFaceModels } from '../analyze.ts';
import { evaluateLfw, LFW_DEFAULT_FLIP, type LfwReport } from './lfw.ts';

describe('LFW View 1 (pairsDevTest, threshold fitted on pairsDevTrain)', () => {
  let models: FaceModels | undefined;
  let report: LfwReport;

  beforeAll(async () => {
    models = await loadFaceModels({ provider: 'auto', intraOpThreads: 2 });
    report = await evaluateLfw({
      models,
      dir: LFW_DEV_DIR,
      pairsFile: join(LFW_DEV_DIR, 'pairsDevTest.txt'),
      fitFile: join(LFW_DEV_DIR, 'pairsDevTrain.txt'),
      flip: LFW_DEFAULT_FLIP,
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
    if (models) await releaseFaceModels(models);
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
