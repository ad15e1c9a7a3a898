// A user-supplied embedder, wrapped, must compute what the network itself computes on normalised input.
// The "user" models are real: our MobileFaceNet with its prologue removed, as an NCHW and an NHWC model
// that expect normalised floats, the way InsightFace-format models do.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PEOPLE, personImage } from '../../test/support/testdata.ts';
import { embedderShape } from '../embedder.ts';
import { modelPath } from '../manifest.ts';
import { valueInfo } from '../onnx/graphBuilder.ts';
import { decodeModel, ElemType, encodeModel, type ModelProto } from '../onnx/proto.ts';
import { ConversionError } from './tfliteToOnnx.ts';
import { wrapEmbedder } from './wrapEmbedder.ts';

const ours = decodeModel(readFileSync(modelPath('mobilefacenet')));
const NORM = { mean: 127.5, scale: 1 / 128 };

/** Our graph minus its Sub/Mul (and Transpose for NCHW) prologue: the network on normalised input. */
function userModel(layout: 'nchw' | 'nhwc'): ModelProto {
  const [sub, mul, transpose] = ours.graph.node;
  const first = layout === 'nchw' ? transpose! : mul!;
  const drop = new Set(layout === 'nchw' ? [sub, mul, transpose] : [sub, mul]);
  const input = first.output[0]!;
  const dims = layout === 'nchw' ? ['N', 3, 112, 112] : ['N', 112, 112, 3];
  return {
    ...ours,
    graph: {
      ...ours.graph,
      node: ours.graph.node.filter((n) => !drop.has(n)),
      initializer: ours.graph.initializer.filter((t) => !t.name.startsWith('pixel_')),
      input: [valueInfo(input, ElemType.FLOAT, dims)],
    },
  };
}

async function faces(n: number): Promise<ort.Tensor> {
  const data = new Float32Array(n * 112 * 112 * 3);
  for (let i = 0; i < n; i++) {
    const px = await sharp(personImage(PEOPLE[i]!, 1)).removeAlpha().resize(112, 112).raw().toBuffer();
    data.set(px, i * 112 * 112 * 3);
  }
  return new ort.Tensor('float32', data, [n, 112, 112, 3]);
}

describe('wrapEmbedder', () => {
  for (const layout of ['nchw', 'nhwc'] as const) {
    it(`wraps an ${layout.toUpperCase()} embedder so it matches the network on the same faces`, async () => {
      const wrapped = wrapEmbedder(userModel(layout), NORM);
      expect(wrapped).toMatchObject({ layout, size: 112, dim: 192 });
      const session = await ort.InferenceSession.create(encodeModel(wrapped.model));
      const reference = await ort.InferenceSession.create(modelPath('mobilefacenet'));
      expect(embedderShape(session)).toEqual({ size: 112, dim: 192, fixedBatch: undefined });
      const input = await faces(4);
      const a = (await session.run({ [session.inputNames[0]!]: input }))[session.outputNames[0]!]!.data as Float32Array;
      const b = (await reference.run({ image: input })).embedding!.data as Float32Array;
      let max = 0;
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
      expect(max).toBeLessThanOrEqual(1e-4);
      await session.release();
      await reference.release();
    });
  }

  it('refuses models it cannot read the layout of', () => {
    const bad = userModel('nchw');
    bad.graph.input = [valueInfo(bad.graph.input[0]!.name, ElemType.FLOAT, ['N', 4, 112, 112])];
    expect(() => wrapEmbedder(bad, NORM)).toThrow(ConversionError);
    const twoInputs = userModel('nchw');
    twoInputs.graph.input.push(valueInfo('extra', ElemType.FLOAT, [1]));
    expect(() => wrapEmbedder(twoInputs, NORM)).toThrow(/one input/);
  });
});
