// The converted ONNX models must compute what the TFLite files say, to within 1e-4 on every output; and the
// served spelling of PReLU (1×1 convs, for speed) exactly what PRelu nodes compute.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { casesFor, checkModel, loadWeights, onnxInput } from '../../test/support/conversionCheck.ts';
import { convertCatalogModel } from '../build.ts';
import { CATALOG, type ModelName } from '../catalog.ts';
import { encodeModel } from '../onnx/proto.ts';

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

describe('PReLU as convs', () => {
  for (const model of Object.keys(CATALOG) as ModelName[]) {
    it(`${model}: the same numbers as PRelu nodes, to the bit`, async () => {
      const open = (prelu: 'node' | 'convs') =>
        ort.InferenceSession.create(encodeModel(convertCatalogModel(model, weights.get(model)!, prelu)), {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
        });
      const [nodes, convs] = await Promise.all([open('node'), open('convs')]);
      try {
        for (const batch of await casesFor(model)) {
          const feeds = { image: onnxInput(model, batch) };
          const [a, b] = [await nodes.run(feeds), await convs.run(feeds)];
          for (const name of Object.values(CATALOG[model].convert.outputs)) {
            expect(Array.from(b[name]!.data as Float32Array), `${model} ${batch.label} ${name}`).toEqual(
              Array.from(a[name]!.data as Float32Array),
            );
          }
        }
      } finally {
        await Promise.all([nodes.release(), convs.release()]);
      }
    });
  }
});
