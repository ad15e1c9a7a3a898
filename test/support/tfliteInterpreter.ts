// A deliberately plain TFLite evaluator used only as ground truth in tests of the TFLite→ONNX converter.
// It runs the graph operator by operator in NHWC, exactly as the file says, with straightforward loops: every
// intermediate shape comes from the actual inputs, so a model stored at one size can be run at another.
import type { Activation, Padding, TfliteGraph, TfliteOperator, WindowOptions } from '../../models/convert/tflite.ts';

export interface NdArray {
  shape: number[];
  data: Float32Array;
}

/** Runs `graph` on `inputs` (in `graph.inputs` order) and returns the values of `graph.outputs`, in order. */
export function runTflite(graph: TfliteGraph, inputs: NdArray[]): NdArray[] {
  if (inputs.length !== graph.inputs.length) {
    throw new Error(`the graph takes ${graph.inputs.length} input(s), got ${inputs.length}`);
  }
  const values = new Map<number, NdArray>();
  graph.inputs.forEach((tensorIndex, i) => {
    const input = inputs[i]!;
    const stored = graph.tensors[tensorIndex]?.shape ?? [];
    if (input.data.length !== sizeOf(input.shape)) {
      throw new Error(
        `input ${i}: shape [${input.shape}] needs ${sizeOf(input.shape)} values, got ${input.data.length}`,
      );
    }
    if (input.shape.length !== stored.length) {
      throw new Error(`input ${i}: rank ${input.shape.length} given, the file stores rank ${stored.length}`);
    }
    values.set(tensorIndex, input);
  });

  const value = (tensorIndex: number): NdArray => {
    const known = values.get(tensorIndex);
    if (known) return known;
    const tensor = graph.tensors[tensorIndex];
    if (tensor?.data === undefined) {
      throw new Error(`tensor ${tensor?.name ?? tensorIndex} is neither an input, a constant, nor computed yet`);
    }
    // Constants are the only place where stored shapes are trusted.
    const data = tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
    const constant = { shape: [...tensor.shape], data };
    values.set(tensorIndex, constant);
    return constant;
  };

  graph.operators.forEach((op, i) => {
    try {
      const out = evaluate(op, value, graph);
      const outIndex = op.outputs[0];
      if (outIndex === undefined) throw new Error('operator has no output');
      values.set(outIndex, out);
    } catch (cause) {
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new Error(`operator #${i} (${op.op}): ${message}`, { cause });
    }
  });
  return graph.outputs.map(value);
}

type ValueOf = (tensorIndex: number) => NdArray;

function evaluate(op: TfliteOperator, value: ValueOf, graph: TfliteGraph): NdArray {
  const input = (k: number): NdArray => {
    const index = op.inputs[k];
    if (index === undefined || index < 0) throw new Error(`missing input ${k}`);
    return value(index);
  };
  const optionalInput = (k: number): NdArray | undefined => {
    const index = op.inputs[k];
    return index === undefined || index < 0 ? undefined : value(index);
  };
  switch (op.op) {
    case 'CONV_2D':
      return conv2d(op, input(0), input(1), optionalInput(2));
    case 'DEPTHWISE_CONV_2D':
      return depthwiseConv2d(op, input(0), input(1), optionalInput(2));
    case 'MAX_POOL_2D':
      return maxPool2d(op, input(0));
    case 'FULLY_CONNECTED':
      return fullyConnected(op, input(0), input(1), optionalInput(2));
    case 'ADD':
      return binary(input(0), input(1), (a, b) => activate(a + b, op.activation));
    case 'SUB':
      return binary(input(0), input(1), (a, b) => activate(a - b, op.activation));
    case 'MUL':
      return binary(input(0), input(1), (a, b) => activate(a * b, op.activation));
    case 'DIV':
      return binary(input(0), input(1), (a, b) => activate(a / b, op.activation));
    case 'RELU':
      return unary(input(0), (x) => Math.max(0, x));
    case 'NEG':
      return unary(input(0), (x) => -x);
    case 'ABS':
      return unary(input(0), Math.abs);
    case 'EXP':
      return unary(input(0), Math.exp);
    case 'PRELU':
      return binary(input(0), input(1), (x, alpha) => (x >= 0 ? x : alpha * x));
    case 'REDUCE_MAX':
      return reduce(input(0), constantInts(op, 1, graph), op.keepDims, -Infinity, Math.max);
    case 'SUM':
      return reduce(input(0), constantInts(op, 1, graph), op.keepDims, 0, (acc, x) => acc + x);
    case 'RESHAPE':
      return reshape(op, input(0), graph);
    case 'SOFTMAX':
      return softmax(input(0), op.beta);
    default: {
      // Reachable with hand-built graphs or a reader that learned new ops before this interpreter did.
      const unknown: never = op;
      throw new Error(`unsupported TFLite op ${(unknown as { op: string }).op}`);
    }
  }
}

// ---- shape and index helpers ----

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Row-major strides: the flat-index step of each axis. */
function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  return strides;
}

function rank4(a: NdArray, what: string): [number, number, number, number] {
  const [n, h, w, c] = a.shape;
  if (a.shape.length !== 4 || n === undefined || h === undefined || w === undefined || c === undefined) {
    throw new Error(`${what} must be 4-D, got [${a.shape}]`);
  }
  return [n, h, w, c];
}

function activate(x: number, activation: Activation): number {
  return activation === 'RELU' ? Math.max(0, x) : x;
}

/** One spatial axis of a sliding window, with TensorFlow's SAME/VALID rules. */
interface WindowAxis {
  out: number;
  /** Padding before the first element; SAME puts the odd extra pad after, as TF does. */
  padBefore: number;
}

function windowAxis(inSize: number, kernel: number, stride: number, dilation: number, padding: Padding): WindowAxis {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'VALID') {
    const out = Math.ceil((inSize - span + 1) / stride);
    if (out < 1) throw new Error(`VALID window of span ${span} does not fit an input of size ${inSize}`);
    return { out, padBefore: 0 };
  }
  const out = Math.ceil(inSize / stride);
  const padTotal = Math.max((out - 1) * stride + span - inSize, 0);
  return { out, padBefore: Math.floor(padTotal / 2) };
}

function windows(op: WindowOptions, inH: number, inW: number, kH: number, kW: number): [WindowAxis, WindowAxis] {
  return [
    windowAxis(inH, kH, op.strideH, op.dilationH, op.padding),
    windowAxis(inW, kW, op.strideW, op.dilationW, op.padding),
  ];
}

function checkBias(bias: NdArray | undefined, channels: number): void {
  if (bias && bias.data.length !== channels) {
    throw new Error(`bias has ${bias.data.length} values for ${channels} output channels`);
  }
}

// ---- ops ----

/**
 * Slides a KH×KW window over `x` (NHWC): for each output pixel the `outC` sums start at the bias, `tap` adds the
 * terms of each kernel position inside the input (given the input pixel's offset and the position's index
 * ky × KW + kx), and the activated sums are that pixel's outputs.
 */
function slide(
  op: WindowOptions,
  x: NdArray,
  kH: number,
  kW: number,
  outC: number,
  bias: NdArray | undefined,
  tap: (acc: Float64Array, xBase: number, k: number) => void,
): NdArray {
  const [n, inH, inW, inC] = rank4(x, 'input');
  checkBias(bias, outC);
  const [rows, cols] = windows(op, inH, inW, kH, kW);
  const out = new Float32Array(n * rows.out * cols.out * outC);
  const acc = new Float64Array(outC);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < rows.out; oy++) {
      for (let ox = 0; ox < cols.out; ox++) {
        for (let oc = 0; oc < outC; oc++) acc[oc] = bias ? bias.data[oc]! : 0;
        for (let ky = 0; ky < kH; ky++) {
          const iy = oy * op.strideH - rows.padBefore + ky * op.dilationH;
          if (iy < 0 || iy >= inH) continue;
          for (let kx = 0; kx < kW; kx++) {
            const ix = ox * op.strideW - cols.padBefore + kx * op.dilationW;
            if (ix < 0 || ix >= inW) continue;
            tap(acc, ((b * inH + iy) * inW + ix) * inC, ky * kW + kx);
          }
        }
        for (let oc = 0; oc < outC; oc++) out[o++] = activate(acc[oc]!, op.activation);
      }
    }
  }
  return { shape: [n, rows.out, cols.out, outC], data: out };
}

function conv2d(op: WindowOptions, x: NdArray, w: NdArray, bias: NdArray | undefined): NdArray {
  const inC = rank4(x, 'input')[3];
  const [outC, kH, kW, wC] = rank4(w, 'weights (OHWI)');
  if (wC !== inC) throw new Error(`weights expect ${wC} input channels, the input has ${inC}`);
  const xd = x.data;
  // Weights as [KH][KW][I][O], so the innermost loop runs over output channels at unit stride; each output still
  // sums its terms in the same order (ky, kx, ic), in float64.
  const wt = new Float64Array(kH * kW * inC * outC);
  for (let oc = 0; oc < outC; oc++)
    for (let k = 0; k < kH * kW * inC; k++) wt[k * outC + oc] = w.data[oc * kH * kW * inC + k]!;
  return slide(op, x, kH, kW, outC, bias, (acc, xBase, k) => {
    for (let ic = 0; ic < inC; ic++) {
      const xv = xd[xBase + ic]!;
      const row = (k * inC + ic) * outC;
      for (let oc = 0; oc < outC; oc++) acc[oc]! += xv * wt[row + oc]!;
    }
  });
}

function depthwiseConv2d(
  op: WindowOptions & { depthMultiplier: number },
  x: NdArray,
  w: NdArray,
  bias: NdArray | undefined,
): NdArray {
  const inC = rank4(x, 'input')[3];
  const [one, kH, kW, outC] = rank4(w, 'weights [1,KH,KW,C*M]');
  if (one !== 1) throw new Error(`depthwise weights must have a leading 1, got [${w.shape}]`);
  const multiplier = op.depthMultiplier;
  if (outC !== inC * multiplier) {
    throw new Error(
      `weights have ${outC} channels; input ${inC} × depthMultiplier ${multiplier} = ${inC * multiplier}`,
    );
  }
  const xd = x.data;
  const wd = w.data;
  const inputOf = Int32Array.from({ length: outC }, (_, oc) => Math.floor(oc / multiplier));
  return slide(op, x, kH, kW, outC, bias, (acc, xBase, k) => {
    const wBase = k * outC;
    for (let oc = 0; oc < outC; oc++) acc[oc]! += xd[xBase + inputOf[oc]!]! * wd[wBase + oc]!;
  });
}

function maxPool2d(op: WindowOptions & { filterH: number; filterW: number }, x: NdArray): NdArray {
  const [n, inH, inW, c] = rank4(x, 'input');
  const [rows, cols] = windows(op, inH, inW, op.filterH, op.filterW);
  const xd = x.data;
  const out = new Float32Array(n * rows.out * cols.out * c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < rows.out; oy++) {
      for (let ox = 0; ox < cols.out; ox++) {
        for (let ch = 0; ch < c; ch++) {
          // Padded positions are skipped rather than read as zeros, so an all-negative window keeps its max.
          let max = -Infinity;
          for (let ky = 0; ky < op.filterH; ky++) {
            const iy = oy * op.strideH - rows.padBefore + ky;
            if (iy < 0 || iy >= inH) continue;
            for (let kx = 0; kx < op.filterW; kx++) {
              const ix = ox * op.strideW - cols.padBefore + kx;
              if (ix < 0 || ix >= inW) continue;
              max = Math.max(max, xd[((b * inH + iy) * inW + ix) * c + ch]!);
            }
          }
          out[o++] = activate(max, op.activation);
        }
      }
    }
  }
  return { shape: [n, rows.out, cols.out, c], data: out };
}

function fullyConnected(
  op: { activation: Activation; keepNumDims: boolean },
  x: NdArray,
  w: NdArray,
  bias: NdArray | undefined,
): NdArray {
  const [outN, k] = w.shape;
  if (w.shape.length !== 2 || outN === undefined || k === undefined) {
    throw new Error(`weights must be [O, K], got [${w.shape}]`);
  }
  checkBias(bias, outN);
  const total = x.data.length;
  // The input is read in its own (NHWC) memory order, whatever its rank: that is what TFLite does.
  if (total % k !== 0) throw new Error(`input [${x.shape}] (${total} values) does not split into rows of ${k}`);
  const batch = total / k;
  if (op.keepNumDims && x.shape[x.shape.length - 1] !== k) {
    throw new Error(`keepNumDims needs the input's last axis to be ${k}, got [${x.shape}]`);
  }
  const xd = x.data;
  const wd = w.data;
  const out = new Float32Array(batch * outN);
  for (let b = 0; b < batch; b++) {
    for (let o = 0; o < outN; o++) {
      let acc = bias ? bias.data[o]! : 0;
      for (let i = 0; i < k; i++) acc += xd[b * k + i]! * wd[o * k + i]!;
      out[b * outN + o] = activate(acc, op.activation);
    }
  }
  const shape = op.keepNumDims ? [...x.shape.slice(0, -1), outN] : [batch, outN];
  return { shape, data: out };
}

function unary(x: NdArray, f: (x: number) => number): NdArray {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(x.data[i]!);
  return { shape: [...x.shape], data: out };
}

/** NumPy broadcasting: align shapes on the right; a dimension of 1 stretches to match the other. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) {
    const da = a[a.length - rank + d] ?? 1;
    const db = b[b.length - rank + d] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    shape.push(da === 1 ? db : da);
  }
  return shape;
}

/** Strides of `shape` seen through `outShape`: 0 on axes that are missing or stretched from 1. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : own[d - lead]!));
}

/** Whether `small`, broadcast to `shape`, repeats along the leading axes only (a scalar, a per-channel vector). */
function repeatsWhole(small: readonly number[], shape: readonly number[]): boolean {
  let first = 0;
  while (first < small.length && small[first] === 1) first++;
  const tail = small.slice(first);
  return tail.every((d, i) => d === shape[shape.length - tail.length + i]);
}

function binary(a: NdArray, b: NdArray, f: (a: number, b: number) => number): NdArray {
  const shape = broadcastShape(a.shape, b.shape);
  const n = sizeOf(shape);
  // Index arithmetic per element dominates the general case; the common broadcasts need none.
  if (a.data.length === n && repeatsWhole(b.shape, shape)) {
    const out = new Float32Array(n);
    const m = b.data.length;
    for (let i = 0; i < n; i++) out[i] = f(a.data[i]!, b.data[i % m]!);
    return { shape, data: out };
  }
  if (b.data.length === n && repeatsWhole(a.shape, shape)) {
    const out = new Float32Array(n);
    const m = a.data.length;
    for (let i = 0; i < n; i++) out[i] = f(a.data[i % m]!, b.data[i]!);
    return { shape, data: out };
  }
  const outStrides = stridesOf(shape);
  const aStrides = broadcastStrides(a.shape, shape);
  const bStrides = broadcastStrides(b.shape, shape);
  const out = new Float32Array(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    let rest = i;
    let ai = 0;
    let bi = 0;
    for (let d = 0; d < shape.length; d++) {
      const coord = Math.floor(rest / outStrides[d]!);
      rest -= coord * outStrides[d]!;
      ai += coord * aStrides[d]!;
      bi += coord * bStrides[d]!;
    }
    out[i] = f(a.data[ai]!, b.data[bi]!);
  }
  return { shape, data: out };
}

/** Reads an int32 parameter tensor (reduction axes, reshape target) that must be a constant in the file. */
function constantInts(op: TfliteOperator, k: number, graph: TfliteGraph): number[] {
  const index = op.inputs[k];
  const tensor = index === undefined || index < 0 ? undefined : graph.tensors[index];
  if (tensor?.data === undefined) throw new Error(`input ${k} must be a constant`);
  return Array.from(tensor.data);
}

function reduce(
  x: NdArray,
  axesGiven: number[],
  keepDims: boolean,
  initial: number,
  combine: (acc: number, x: number) => number,
): NdArray {
  const rank = x.shape.length;
  const axes = new Set(
    axesGiven.map((axis) => {
      if (axis < -rank || axis >= rank) throw new Error(`axis ${axis} is out of range for [${x.shape}]`);
      return axis < 0 ? axis + rank : axis;
    }),
  );
  const keptShape = x.shape.map((dim, d) => (axes.has(d) ? 1 : dim));
  // Each input coordinate maps to the output by dropping its reduced coordinates.
  const keptStrides = broadcastStrides(keptShape, x.shape);
  const inStrides = stridesOf(x.shape);
  const acc = new Float64Array(sizeOf(keptShape)).fill(initial);
  for (let i = 0; i < x.data.length; i++) {
    let rest = i;
    let o = 0;
    for (let d = 0; d < rank; d++) {
      const coord = Math.floor(rest / inStrides[d]!);
      rest -= coord * inStrides[d]!;
      o += coord * keptStrides[d]!;
    }
    acc[o] = combine(acc[o]!, x.data[i]!);
  }
  const shape = keepDims ? keptShape : x.shape.filter((_, d) => !axes.has(d));
  return { shape, data: Float32Array.from(acc) };
}

function reshape(op: Extract<TfliteOperator, { op: 'RESHAPE' }>, x: NdArray, graph: TfliteGraph): NdArray {
  const fromTensor = op.inputs.length > 1 && (op.inputs[1] ?? -1) >= 0 ? constantInts(op, 1, graph) : undefined;
  // TFLite prefers the shape tensor when there is one; the two disagreeing would mean a malformed file.
  if (fromTensor && op.newShape && op.newShape.join() !== fromTensor.join()) {
    throw new Error(`newShape option [${op.newShape}] disagrees with the shape input [${fromTensor}]`);
  }
  const target = fromTensor ?? op.newShape;
  if (target === undefined) throw new Error('no target shape (neither a newShape option nor a shape input)');
  const total = x.data.length;
  const unknown = target.indexOf(-1);
  if (unknown !== target.lastIndexOf(-1)) throw new Error(`target shape [${target}] has more than one -1`);
  const shape = [...target];
  if (unknown >= 0) {
    const known = sizeOf(target.filter((_, d) => d !== unknown));
    if (known === 0 || total % known !== 0) throw new Error(`cannot reshape [${x.shape}] to [${target}]`);
    shape[unknown] = total / known;
  }
  if (sizeOf(shape) !== total) {
    throw new Error(`cannot reshape [${x.shape}] (${total} values) to [${target}] (${sizeOf(shape)} values)`);
  }
  return { shape, data: x.data };
}

function softmax(x: NdArray, beta: number): NdArray {
  const n = x.shape[x.shape.length - 1];
  if (n === undefined || n === 0) throw new Error(`softmax needs a non-empty last axis, got [${x.shape}]`);
  const out = new Float32Array(x.data.length);
  for (let row = 0; row < x.data.length; row += n) {
    // Subtracting the row max keeps exp() from overflowing; it cancels in the ratio.
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x.data[row + i]!);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(beta * (x.data[row + i]! - max));
    for (let i = 0; i < n; i++) out[row + i] = Math.exp(beta * (x.data[row + i]! - max)) / sum;
  }
  return { shape: [...x.shape], data: out };
}
