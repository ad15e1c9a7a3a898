// The QDQ quantiser on a small network built with the graph builder (conv, PReLU, depthwise conv, residual add,
// fully-connected): calibrated on some inputs, the int8 graph must compute what the float one does on others,
// and onnxruntime must run its convolutions, add and fully-connected layer on int8 kernels.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/random.ts';
import { GraphBuilder } from '../onnx/graphBuilder.ts';
import { decodeModel, ElemType, encodeModel, type ModelProto } from '../onnx/proto.ts';
import { activationParams, quantizedTensors, quantizeQdq, quantizeWeights } from './qdq.ts';
import { probeModel, RangeCollector, rangesOf } from './ranges.ts';

const C = 8;
const S = 12;
const OUT = 10;
const next = seededRandom(13);
const randoms = (n: number, scale: number) => Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);

/** input [N,C,S,S] → conv 3×3 → PReLU → depthwise 3×3 → conv 1×1 → + conv output → conv 1×1 → FC → [N,10] */
function network(): ModelProto {
  const b = new GraphBuilder();
  const x = b.input('x', ElemType.FLOAT, ['N', C, S, S]);
  const conv = (input: string, cin: number, k: number, group = 1): string => {
    const w = b.floatConstant('w', [C, cin / group, k, k], randoms((C * cin * k * k) / group, 1 / Math.sqrt(cin * k)));
    const bias = b.floatConstant('b', [C], randoms(C, 0.2));
    const pad = (k - 1) / 2;
    return b.node('Conv', [input, w, bias], {
      kernel_shape: { ints: [k, k] },
      pads: { ints: [pad, pad, pad, pad] },
      group: { int: group },
    });
  };
  const c1 = conv(x, C, 3);
  const p = b.node('PRelu', [c1, b.floatConstant('slope', [C, 1, 1], randoms(C, 0.3).map(Math.abs))]);
  const d = conv(p, C, 3, C);
  const c2 = conv(d, C, 1);
  const sum = b.node('Add', [c2, c1]);
  const c3 = conv(sum, C, 1);
  const flat = b.node('Flatten', [c3], { axis: { int: 1 } });
  const fcW = b.floatConstant('fc_w', [OUT, C * S * S], randoms(OUT * C * S * S, 1 / Math.sqrt(C * S * S)));
  b.node('Gemm', [flat, fcW, b.floatConstant('fc_b', [OUT], randoms(OUT, 0.1))], { transB: { int: 1 } }, 'y');
  b.output('y', ElemType.FLOAT, ['N', OUT]);
  return b.toModel('qdq_test', 'small network for the quantiser test');
}

const batch = (n: number) => new ort.Tensor('float32', randoms(n * C * S * S, 1), [n, C, S, S]);

async function run(model: ModelProto, x: ort.Tensor): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(encodeModel(model), { intraOpNumThreads: 1 });
  try {
    return await session.run({ x });
  } finally {
    await session.release();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'qdq-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The op types of the graph onnxruntime runs (after its QDQ fusions). */
async function optimizedOps(model: ModelProto): Promise<string[]> {
  const optimized = join(dir, 'optimized.onnx');
  const session = await ort.InferenceSession.create(encodeModel(model), {
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'extended',
    optimizedModelFilePath: optimized,
  });
  await session.release();
  return decodeModel(readFileSync(optimized)).graph.node.map((n) => n.opType);
}

const float = network();
const tensors = quantizedTensors(float);
const collector = new RangeCollector();
const probe = await run(probeModel(float, tensors), batch(32));
for (const t of tensors) collector.add(t, probe[t]!.data as Float32Array);
const ranges = rangesOf(collector.result(), 'minmax');

describe('quantizeQdq', () => {
  it('lists the activations of the quantisable ops, not PReLU or Flatten alone', () => {
    const byName = new Map(float.graph.node.map((n) => [n.output[0]!, n.opType]));
    expect(tensors).toContain('x');
    expect(tensors).toContain('y');
    // Every conv output is quantised (that is what lets onnxruntime fuse it); PReLU's is, as the next conv's input.
    for (const [out, op] of byName) if (op === 'Conv' || op === 'Add') expect(tensors).toContain(out);
    expect(tensors.some((t) => byName.get(t) === 'Flatten')).toBe(true); // the Gemm's input
  });

  it('computes what the float graph computes, on int8 kernels', async () => {
    const int8 = quantizeQdq(float, ranges);

    const x = batch(16);
    const a = (await run(float, x)).y!.data as Float32Array;
    const q = (await run(int8, x)).y!.data as Float32Array;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < a.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - q[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(a[i]!));
    }
    // Measured: 1.6% of the largest output. An int8 graph that were wrong (a scale or axis off) is off by
    // tens of percent.
    console.log(`int8 vs float: max |diff| ${maxDiff.toFixed(4)} of max |y| ${maxAbs.toFixed(3)}`);
    expect(maxDiff / maxAbs).toBeLessThan(0.03);
    expect(maxDiff).toBeGreaterThan(0); // it did quantise

    const ops = await optimizedOps(int8);
    expect(ops.filter((o) => o === 'QLinearConv')).toHaveLength(4);
    expect(ops).toContain('QLinearAdd');
    expect(ops).toContain('QGemm');
    expect(ops).not.toContain('Conv');
  });

  it('leaves the ops it is told to in float', async () => {
    expect(quantizedTensors(float, { keepFloat: ['y'] })).not.toContain('y');
    const ops = await optimizedOps(quantizeQdq(float, ranges, { keepFloat: ['y'] }));
    expect(ops).toContain('Gemm');
    expect(ops).not.toContain('QGemm');
    expect(ops.filter((o) => o === 'QLinearConv')).toHaveLength(4);
  });

  it('refuses a graph without a range for a tensor it must quantise', () => {
    expect(() => quantizeQdq(float, {})).toThrow(/no calibrated range/);
  });
});

describe('quantisation parameters', () => {
  it('keeps zero exact and covers the range', () => {
    for (const range of [
      [-1.3, 4.1],
      [0.5, 2],
      [-3, -1],
    ] as const) {
      const { scale, zeroPoint } = activationParams(range);
      expect(Number.isInteger(zeroPoint) && zeroPoint >= 0 && zeroPoint <= 255).toBe(true);
      expect((0 - zeroPoint) * scale).toBeLessThanOrEqual(Math.min(range[0], 0) + scale / 2);
      expect((255 - zeroPoint) * scale).toBeGreaterThanOrEqual(Math.max(range[1], 0) - scale / 2);
    }
  });

  it('scales weights per output channel, symmetric', () => {
    // Two channels of 2 weights ([2,2], axis 0), one 100 times larger than the other.
    const { values, scales } = quantizeWeights(Float32Array.of(0.01, -0.004, 1, 0.25), [2, 2], 0, 127);
    expect([...values]).toEqual([127, -51, 127, 32]);
    expect(scales[0]! * 127).toBeCloseTo(0.01, 6);
    expect(scales[1]! * 127).toBeCloseTo(1, 6);
    // Along axis 1 of [2,2] ([K,O] weights), channels are the columns.
    expect([...quantizeWeights(Float32Array.of(0.01, 1, -0.004, 0.25), [2, 2], 1, 127).values]).toEqual([
      127, 127, -51, 32,
    ]);
  });
});
