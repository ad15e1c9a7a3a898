// The converted ONNX models must compute what the TFLite files say, to within 1e-4 on every output.
import { describe, expect, it } from 'vitest';
import { checkModel, loadWeights } from '../../test/support/conversionCheck.ts';
import { CATALOG, type ModelName } from '../catalog.ts';

const BAR = 1e-4;
const weights = await loadWeights();

describe('converted models match the reference TFLite interpreter', () => {
  for (const model of Object.keys(CATALOG) as ModelName[]) {
    it(`${model}`, async () => {
      const results = await checkModel(model, weights.get(model)!);
      expect(results.length).toBeGreaterThan(1);
      for (const r of results) {
        for (const [output, diff] of Object.entries(r.maxAbsDiff)) {
          expect(diff, `${model} ${r.label} ${output}`).toBeLessThanOrEqual(BAR);
        }
      }
    });
  }
});
