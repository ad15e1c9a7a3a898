// Hand-computed cases for the reference interpreter: if it is wrong, every converter test that trusts it is too.
import { describe, expect, it } from 'vitest';
import type { TensorType, TfliteGraph, TfliteOperator, WindowOptions } from '../../models/convert/tflite.ts';
import { type NdArray, runTflite } from './tfliteInterpreter.ts';

interface TensorSpec {
  shape: number[];
  data?: Float32Array | Int32Array;
}

/** Tensor i of the graph is `specs[i]`; tensors without data are activations. */
function graphOf(specs: TensorSpec[], operators: TfliteOperator[], inputs: number[], outputs: number[]): TfliteGraph {
  return {
    tensors: specs.map((s, index) => ({
      index,
      name: `t${index}`,
      shape: s.shape,
      type: (s.data instanceof Int32Array ? 'int32' : 'float32') satisfies TensorType,
      data: s.data,
    })),
    operators,
    inputs,
    outputs,
  };
}

function nd(shape: number[], values: number[] | ((i: number) => number)): NdArray {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = typeof values === 'function' ? Float32Array.from({ length: size }, (_, i) => values(i)) : values;
  if (data.length !== size) throw new Error(`test bug: ${data.length} values for [${shape}]`);
  return { shape, data: Float32Array.from(data) };
}

function expectClose(actual: NdArray, shape: number[], expected: ArrayLike<number>): void {
  expect(actual.shape).toEqual(shape);
  expect(actual.data.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual.data[i], `element ${i}`).toBeCloseTo(expected[i]!, 5);
}

/** Runs a one-operator graph: tensor 0 is the input, the last spec is the output. */
function runOne(op: TfliteOperator, specs: TensorSpec[], input: NdArray): NdArray {
  const out = runTflite(graphOf(specs, [op], [0], [specs.length - 1]), [input])[0];
  if (out === undefined) throw new Error('no output');
  return out;
}

const window = (over: Partial<WindowOptions> = {}): WindowOptions => ({
  padding: 'SAME',
  strideH: 1,
  strideW: 1,
  dilationH: 1,
  dilationW: 1,
  activation: 'NONE',
  ...over,
});

const f32 = (values: number[]) => Float32Array.from(values);
const i32 = (values: number[]) => Int32Array.from(values);

describe('CONV_2D', () => {
  const onesKernel = { shape: [1, 3, 3, 1], data: new Float32Array(9).fill(1) };
  const conv = (over: Partial<WindowOptions>, inputs = [0, 1, -1], output = 2): TfliteOperator => ({
    op: 'CONV_2D',
    ...window(over),
    inputs,
    outputs: [output],
  });

  it('SAME, stride 2, even size 4: pads 0 before and 1 after', () => {
    // x[r][c] = 4r + c + 1; windows cover rows/cols {0,1,2} and {2,3,(pad)}.
    const x = nd([1, 4, 4, 1], (i) => i + 1);
    const out = runOne(conv({ strideH: 2, strideW: 2 }), [{ shape: [1, 4, 4, 1] }, onesKernel, { shape: [] }], x);
    // A symmetric pad of 1 would give 1+2+5+6 = 14 in the first position instead.
    expectClose(out, [1, 2, 2, 1], [54, 45, 72, 54]);
  });

  it('SAME, stride 2, odd size 5: pads 1 on each side', () => {
    const x = nd([1, 5, 5, 1], (i) => i + 1);
    const out = runOne(conv({ strideH: 2, strideW: 2 }), [{ shape: [1, 5, 5, 1] }, onesKernel, { shape: [] }], x);
    expectClose(out, [1, 3, 3, 1], [16, 33, 28, 69, 117, 87, 76, 123, 88]);
  });

  it('VALID with dilation shrinks by the dilated span', () => {
    // 7 wide, 3 taps at dilation 2 span 5 → 3 outputs along each axis; stored shape is irrelevant.
    const x = nd([1, 7, 7, 1], (i) => i);
    const op = conv({ padding: 'VALID', dilationH: 2, dilationW: 2 });
    const out = runOne(op, [{ shape: [1, 1, 1, 1] }, onesKernel, { shape: [] }], x);
    const expected: number[] = [];
    for (let oy = 0; oy < 3; oy++) {
      for (let ox = 0; ox < 3; ox++) {
        let s = 0;
        for (const dy of [0, 2, 4]) for (const dx of [0, 2, 4]) s += (oy + dy) * 7 + ox + dx;
        expected.push(s);
      }
    }
    expectClose(out, [1, 3, 3, 1], expected);
  });

  it('reads OHWI weights, adds the bias, applies fused RELU, and handles batch > 1', () => {
    // Compared against an explicitly zero-padded VALID convolution written out longhand.
    const [n, h, w, ci, co, k] = [2, 4, 5, 3, 2, 3];
    const x = nd([n, h, w, ci], (i) => Math.sin(i * 1.7));
    const weights = nd([co, k, k, ci], (i) => Math.cos(i * 0.9));
    const bias = f32([0.25, -0.5]);
    const op = conv({ activation: 'RELU' }, [0, 1, 2], 3);
    const out = runOne(op, [{ shape: [1, 1, 1, ci] }, weights, { shape: [co], data: bias }, { shape: [] }], x);

    const at = (b: number, y: number, xx: number, c: number) =>
      y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x.data[((b * h + y) * w + xx) * ci + c]!;
    const expected: number[] = [];
    for (let b = 0; b < n; b++) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          for (let o = 0; o < co; o++) {
            let s = bias[o]!;
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                for (let c = 0; c < ci; c++) {
                  s += at(b, y + ky - 1, xx + kx - 1, c) * weights.data[((o * k + ky) * k + kx) * ci + c]!;
                }
              }
            }
            expected.push(Math.max(0, s));
          }
        }
      }
    }
    expectClose(out, [n, h, w, co], expected);
    expect(out.data.some((v) => v === 0)).toBe(true); // the RELU actually clipped something
  });
});

describe('DEPTHWISE_CONV_2D', () => {
  it('depthMultiplier 1: each channel uses its own kernel, SAME pads after', () => {
    // Channel 0 kernel picks the top-left tap, channel 1 the bottom-right one (which falls off the edge).
    const x = nd([1, 3, 3, 2], (i) => (i % 2 === 0 ? i / 2 : (10 * (i - 1)) / 2));
    const weights = { shape: [1, 2, 2, 2], data: f32([1, 0, 0, 0, 0, 0, 0, 1]) };
    const op: TfliteOperator = {
      op: 'DEPTHWISE_CONV_2D',
      depthMultiplier: 1,
      ...window(),
      inputs: [0, 1, 2],
      outputs: [3],
    };
    const out = runOne(op, [{ shape: [1, 3, 3, 2] }, weights, { shape: [2], data: f32([0.5, -1]) }, { shape: [] }], x);
    const expected: number[] = [];
    for (let y = 0; y < 3; y++) {
      for (let xx = 0; xx < 3; xx++) {
        expected.push(y * 3 + xx + 0.5);
        expected.push((y + 1 < 3 && xx + 1 < 3 ? 10 * ((y + 1) * 3 + xx + 1) : 0) - 1);
      }
    }
    expectClose(out, [1, 3, 3, 2], expected);
  });

  it('depthMultiplier 2: output channel c*2+m reads input channel c', () => {
    // 1x1 kernels make the channel mapping the only thing under test.
    const x = nd([1, 1, 2, 2], [1, 2, 3, 4]);
    const weights = { shape: [1, 1, 1, 4], data: f32([10, 100, 1000, 10000]) };
    const op: TfliteOperator = {
      op: 'DEPTHWISE_CONV_2D',
      depthMultiplier: 2,
      ...window(),
      inputs: [0, 1, -1],
      outputs: [2],
    };
    const out = runOne(op, [{ shape: [1, 1, 2, 2] }, weights, { shape: [] }], x);
    expectClose(out, [1, 1, 2, 4], [10, 100, 2000, 20000, 30, 300, 4000, 40000]);
  });
});

describe('MAX_POOL_2D', () => {
  const pool = (over: Partial<WindowOptions>, filter: number): TfliteOperator => ({
    op: 'MAX_POOL_2D',
    filterH: filter,
    filterW: filter,
    ...window(over),
    inputs: [0],
    outputs: [1],
  });

  it('SAME on an odd size ignores the padding even when every value is negative', () => {
    const x = nd([1, 3, 3, 1], (i) => -(i + 1));
    const out = runOne(pool({ strideH: 2, strideW: 2 }, 2), [{ shape: [1, 3, 3, 1] }, { shape: [] }], x);
    // Zero padding taking part would give 0 in the last three positions.
    expectClose(out, [1, 2, 2, 1], [-1, -3, -7, -9]);
  });

  it('VALID 3x3 stride 2 keeps channels apart', () => {
    const x = nd([1, 5, 5, 2], (i) => (i % 2 === 0 ? i : -i));
    const out = runOne(
      pool({ padding: 'VALID', strideH: 2, strideW: 2 }, 3),
      [{ shape: [1, 5, 5, 2] }, { shape: [] }],
      x,
    );
    // Channel 0 grows with the index, so its max is the window's bottom-right; channel 1 its top-left (negated).
    const ch0 = (y: number, xx: number) => (y * 5 + xx) * 2;
    const ch1 = (y: number, xx: number) => -((y * 5 + xx) * 2 + 1);
    const expected: number[] = [];
    for (const y of [0, 2]) for (const xx of [0, 2]) expected.push(ch0(y + 2, xx + 2), ch1(y, xx));
    expectClose(out, [1, 2, 2, 2], expected);
  });
});

describe('FULLY_CONNECTED', () => {
  // x[h][w][c] = 100h + 10w + c, so each value names its own coordinate.
  const coordValue = (i: number) => {
    const c = i % 3;
    const w = Math.floor(i / 3) % 2;
    const h = Math.floor(i / 6) % 2;
    const n = Math.floor(i / 12);
    return 1000 * n + 100 * h + 10 * w + c;
  };
  // Row 0 picks flat position 8, which in NHWC order is (h=1, w=0, c=2); row 1 sums everything.
  const weights = new Float32Array(24);
  weights[8] = 1;
  weights.fill(1, 12);
  const specs = [{ shape: [1, 2, 2, 3] }, { shape: [2, 12], data: weights }, { shape: [2], data: f32([0.5, -0.5]) }];
  const op: TfliteOperator = {
    op: 'FULLY_CONNECTED',
    activation: 'NONE',
    keepNumDims: false,
    inputs: [0, 1, 2],
    outputs: [3],
  };
  const sumOfBatch = (n: number) =>
    Array.from({ length: 12 }, (_, i) => coordValue(n * 12 + i)).reduce((a, b) => a + b);

  it('flattens a [1,2,2,3] input in NHWC order', () => {
    const out = runOne(op, [...specs, { shape: [] }], nd([1, 2, 2, 3], coordValue));
    // NCHW flattening would put (c=2, h=0, w=0) = 2 at position 8 instead of 102.
    expectClose(out, [1, 2], [102.5, sumOfBatch(0) - 0.5]);
  });

  it('takes the batch from the actual input, not the stored shape', () => {
    const out = runOne(op, [...specs, { shape: [] }], nd([2, 2, 2, 3], coordValue));
    expectClose(out, [2, 2], [102.5, sumOfBatch(0) - 0.5, 1102.5, sumOfBatch(1) - 0.5]);
  });

  it('keepNumDims keeps the leading axes', () => {
    const keep: TfliteOperator = { ...op, keepNumDims: true, inputs: [0, 1, -1] };
    const w = { shape: [1, 3], data: f32([1, 2, 3]) };
    const out = runOne(
      keep,
      [{ shape: [2, 2, 3] }, w, { shape: [] }, { shape: [] }],
      nd([2, 2, 3], (i) => i),
    );
    expectClose(out, [2, 2, 1], [0 + 2 + 6, 3 + 8 + 15, 6 + 14 + 24, 9 + 20 + 33]);
  });
});

describe('broadcasting binary ops', () => {
  const x = nd([1, 2, 2, 3], (i) => i);
  const binaryOp = (op: 'ADD' | 'SUB' | 'MUL' | 'DIV', activation: 'NONE' | 'RELU' = 'NONE'): TfliteOperator => ({
    op,
    activation,
    inputs: [0, 1],
    outputs: [2],
  });

  it('ADD of [N,H,W,C] and a constant [C]', () => {
    const out = runOne(
      binaryOp('ADD'),
      [{ shape: [1, 2, 2, 3] }, { shape: [3], data: f32([100, 200, 300]) }, { shape: [] }],
      x,
    );
    expectClose(
      out,
      [1, 2, 2, 3],
      Array.from({ length: 12 }, (_, i) => i + 100 * ((i % 3) + 1)),
    );
  });

  it('ADD of [N,H,W,C] and [N,H,W,1] (two runtime inputs)', () => {
    const g = graphOf(
      [{ shape: [1, 2, 2, 3] }, { shape: [1, 2, 2, 1] }, { shape: [] }],
      [binaryOp('ADD')],
      [0, 1],
      [2],
    );
    const perPixel = nd([1, 2, 2, 1], [1000, 2000, 3000, 4000]);
    const [out] = runTflite(g, [x, perPixel]);
    expectClose(
      out!,
      [1, 2, 2, 3],
      Array.from({ length: 12 }, (_, i) => i + 1000 * (Math.floor(i / 3) + 1)),
    );
  });

  it('keeps operand order with the constant first, and applies fused RELU', () => {
    // The models write PReLU as MUL(alpha[C], x); SUB makes a swapped order visible.
    const g = graphOf(
      [{ shape: [3], data: f32([4, 5, 6]) }, { shape: [1, 2, 2, 3] }, { shape: [] }],
      [binaryOp('SUB', 'RELU')],
      [1],
      [2],
    );
    const [out] = runTflite(g, [x]);
    expectClose(
      out!,
      [1, 2, 2, 3],
      Array.from({ length: 12 }, (_, i) => Math.max(0, [4, 5, 6][i % 3]! - i)),
    );
  });

  it('MUL and DIV by a scalar', () => {
    const scalar = { shape: [], data: f32([4]) };
    expectClose(
      runOne(binaryOp('MUL'), [{ shape: [1, 2, 2, 3] }, scalar, { shape: [] }], x),
      [1, 2, 2, 3],
      Array.from({ length: 12 }, (_, i) => 4 * i),
    );
    expectClose(
      runOne(binaryOp('DIV'), [{ shape: [1, 2, 2, 3] }, scalar, { shape: [] }], x),
      [1, 2, 2, 3],
      Array.from({ length: 12 }, (_, i) => i / 4),
    );
  });

  it('rejects shapes that do not broadcast', () => {
    const bad = { shape: [2], data: f32([1, 2]) };
    expect(() => runOne(binaryOp('ADD'), [{ shape: [1, 2, 2, 3] }, bad, { shape: [] }], x)).toThrow(/broadcast/);
  });
});

describe('elementwise ops', () => {
  const x = nd([4], [-2, -0.5, 0.5, 3]);
  const unaryOp = (op: 'RELU' | 'NEG' | 'ABS' | 'EXP'): TfliteOperator => ({ op, inputs: [0], outputs: [1] });
  const specs = [{ shape: [4] }, { shape: [4] }];
  it.each([
    ['RELU', [0, 0, 0.5, 3]],
    ['NEG', [2, 0.5, -0.5, -3]],
    ['ABS', [2, 0.5, 0.5, 3]],
    ['EXP', [Math.exp(-2), Math.exp(-0.5), Math.exp(0.5), Math.exp(3)]],
  ] as const)('%s', (name, expected) => {
    expectClose(runOne(unaryOp(name), specs, x), [4], expected);
  });

  it('PRELU scales negatives by a broadcast alpha', () => {
    const op: TfliteOperator = { op: 'PRELU', inputs: [0, 1], outputs: [2] };
    const alpha = { shape: [2], data: f32([0.1, 0.2]) };
    const out = runOne(op, [{ shape: [2, 2] }, alpha, { shape: [] }], nd([2, 2], [-1, -1, 2, -3]));
    expectClose(out, [2, 2], [-0.1, -0.2, 2, -0.6]);
  });

  it('SOFTMAX on the last axis with beta', () => {
    const op: TfliteOperator = { op: 'SOFTMAX', beta: 2, inputs: [0], outputs: [1] };
    const out = runOne(op, [{ shape: [2, 2] }, { shape: [] }], nd([2, 2], [0, Math.log(3) / 2, 5, 5]));
    expectClose(out, [2, 2], [0.25, 0.75, 0.5, 0.5]);
  });
});

describe('reductions', () => {
  // x[h][w][c] with a distinct value per element; channel 1 is negative so max and sum differ in kind.
  const x = nd([1, 2, 2, 3], (i) => (i % 3 === 1 ? -i : i));
  const reduceOp = (op: 'REDUCE_MAX' | 'SUM', keepDims: boolean): TfliteOperator => ({
    op,
    keepDims,
    inputs: [0, 1],
    outputs: [2],
  });

  it('REDUCE_MAX over a scalar axis with keepDims', () => {
    const out = runOne(
      reduceOp('REDUCE_MAX', true),
      [{ shape: [1, 2, 2, 3] }, { shape: [], data: i32([3]) }, { shape: [] }],
      x,
    );
    expectClose(out, [1, 2, 2, 1], [2, 5, 8, 11]);
  });

  it('REDUCE_MAX over a negative axis without keepDims', () => {
    const out = runOne(
      reduceOp('REDUCE_MAX', false),
      [{ shape: [1, 2, 2, 3] }, { shape: [], data: i32([-1]) }, { shape: [] }],
      x,
    );
    expectClose(out, [1, 2, 2], [2, 5, 8, 11]);
  });

  it('SUM over the spatial axes, with and without keepDims', () => {
    const axes = { shape: [2], data: i32([1, 2]) };
    // Per channel: c0 = 0+3+6+9, c1 = -(1+4+7+10), c2 = 2+5+8+11.
    const sums = [18, -22, 26];
    expectClose(runOne(reduceOp('SUM', true), [{ shape: [1, 2, 2, 3] }, axes, { shape: [] }], x), [1, 1, 1, 3], sums);
    expectClose(runOne(reduceOp('SUM', false), [{ shape: [1, 2, 2, 3] }, axes, { shape: [] }], x), [1, 3], sums);
  });
});

describe('RESHAPE', () => {
  const x = nd([1, 2, 2, 3], (i) => i);
  const identity = Array.from({ length: 12 }, (_, i) => i);

  it('fills in one -1 from the newShape option', () => {
    const op: TfliteOperator = { op: 'RESHAPE', newShape: [-1, 6], inputs: [0], outputs: [1] };
    expectClose(runOne(op, [{ shape: [1, 2, 2, 3] }, { shape: [] }], x), [2, 6], identity);
  });

  it('falls back to the constant shape input', () => {
    const op: TfliteOperator = { op: 'RESHAPE', newShape: undefined, inputs: [0, 1], outputs: [2] };
    const target = { shape: [3], data: i32([3, -1, 2]) };
    expectClose(runOne(op, [{ shape: [1, 2, 2, 3] }, target, { shape: [] }], x), [3, 2, 2], identity);
  });

  it('does exactly what the file says, and says so when the count does not match', () => {
    // Like MobileFaceNet's hard-coded [2,192]: fine at batch 2, an error at batch 1.
    const op: TfliteOperator = { op: 'RESHAPE', newShape: [2, 6], inputs: [0], outputs: [1] };
    expect(() =>
      runOne(
        op,
        [{ shape: [1, 1, 1, 6] }, { shape: [] }],
        nd([1, 1, 1, 6], (i) => i),
      ),
    ).toThrow(/RESHAPE.*cannot reshape \[1,1,1,6\].*\[2,6\]/);
  });
});

describe('graphs', () => {
  it('chains ops through intermediate values (the MTCNN softmax spelled out)', () => {
    // REDUCE_MAX → SUB → EXP → SUM → DIV, as P-Net's prob1 is written in the file.
    const specs: TensorSpec[] = [
      { shape: [1, 1, 2, 2] }, // 0 input
      { shape: [], data: i32([3]) }, // 1 axis
      { shape: [] }, // 2 max
      { shape: [] }, // 3 shifted
      { shape: [] }, // 4 exp
      { shape: [] }, // 5 sum
      { shape: [] }, // 6 prob
    ];
    const ops: TfliteOperator[] = [
      { op: 'REDUCE_MAX', keepDims: true, inputs: [0, 1], outputs: [2] },
      { op: 'SUB', activation: 'NONE', inputs: [0, 2], outputs: [3] },
      { op: 'EXP', inputs: [3], outputs: [4] },
      { op: 'SUM', keepDims: true, inputs: [4, 1], outputs: [5] },
      { op: 'DIV', activation: 'NONE', inputs: [4, 5], outputs: [6] },
    ];
    const [prob, max] = runTflite(graphOf(specs, ops, [0], [6, 2]), [nd([1, 1, 2, 2], [0, Math.log(3), 50, 50])]);
    expectClose(prob!, [1, 1, 2, 2], [0.25, 0.75, 0.5, 0.5]);
    expectClose(max!, [1, 1, 2, 1], [Math.log(3), 50]);
  });

  it('names an unsupported op, and the operator it sits at', () => {
    const bogus = { op: 'TANH', inputs: [0], outputs: [1] } as unknown as TfliteOperator;
    const g = graphOf([{ shape: [1] }, { shape: [1] }], [bogus], [0], [1]);
    expect(() => runTflite(g, [nd([1], [0])])).toThrow(/operator #0 \(TANH\): unsupported TFLite op TANH/);
  });

  it('checks the number, rank and size of the inputs', () => {
    const g = graphOf([{ shape: [1, 2] }, { shape: [] }], [{ op: 'RELU', inputs: [0], outputs: [1] }], [0], [1]);
    expect(() => runTflite(g, [])).toThrow(/takes 1 input/);
    expect(() => runTflite(g, [nd([2], [1, 2])])).toThrow(/rank 1 given/);
    expect(() => runTflite(g, [{ shape: [1, 3], data: f32([1, 2]) }])).toThrow(/needs 3 values/);
  });
});
