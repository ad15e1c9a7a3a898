// Converts a float TFLite graph (NHWC) into a clean NCHW ONNX graph.
// - PReLU and softmax, which the TFLite files spell out in elementary ops, become one PReLU (see `prelu`) and
//   a real Softmax node.
// - Weights are re-laid out (OHWI→OIHW, depthwise →[C,1,KH,KW], fully-connected columns NHWC→NCHW order),
//   so the graph needs no Transpose between layers.
// - A prologue takes the RGB image batch as sharp produces it ([N,H,W,3], 0..255), or planar (Preprocess.planar),
//   and normalises it.
import { type Dim, GraphBuilder } from '../onnx/graphBuilder.ts';
import { ElemType, type ModelProto } from '../onnx/proto.ts';
import { type Preprocess, preprocess } from './preprocess.ts';
import type { Padding, TfliteGraph, TfliteOperator, TfliteTensor } from './tflite.ts';

export class ConversionError extends Error {
  override name = 'ConversionError';
}

export interface ConvertOptions {
  graphName: string;
  /** The ONNX input's name. */
  inputName: string;
  /** ONNX output names keyed by TFLite output tensor names. */
  outputs: Record<string, string>;
  preprocess: Preprocess;
  /** True to make height and width symbolic (P-Net); batch is always symbolic. */
  dynamicSpatial: boolean;
  /**
   * How 4-D PReLU is written: as a `PRelu` node, or as `Relu(x) + Conv(Relu(−x), −α)` with 1×1 depthwise convs
   * (exactly the same values). onnxruntime runs no PRelu in its blocked (NCHWc) convolution layout, so every PRelu
   * between two convs costs a layout round trip; the convs stay in that layout. Default: 'convs'.
   */
  prelu?: 'node' | 'convs';
  docString: string;
  metadata?: Record<string, string>;
}

type Fused =
  | { kind: 'prelu'; x: number; alpha: Float32Array; out: number }
  | { kind: 'softmax'; x: number; out: number };

interface Patterns {
  /** Root op index → the fused op that replaces the pattern ending there. */
  roots: Map<number, Fused>;
  /** Indices of ops absorbed into some pattern (roots included). */
  absorbed: Set<number>;
}

/** Finds PReLU and softmax patterns; see the two PReLU spellings in `matchPrelu`. */
function findPatterns(g: TfliteGraph): Patterns {
  const producer = new Map<number, number>();
  const consumers = new Map<number, number>();
  g.operators.forEach((op, i) => {
    for (const t of op.outputs) producer.set(t, i);
    for (const t of op.inputs) if (t >= 0) consumers.set(t, (consumers.get(t) ?? 0) + 1);
  });
  for (const t of g.outputs) consumers.set(t, (consumers.get(t) ?? 0) + 1);

  const opOf = (t: number | undefined): [number, TfliteOperator] | undefined => {
    if (t === undefined) return undefined;
    const i = producer.get(t);
    const op = i === undefined ? undefined : g.operators[i];
    return i === undefined || op === undefined ? undefined : [i, op];
  };
  const constant = (t: number | undefined) => (t === undefined ? undefined : g.tensors[t]?.data);
  const only = (t: number, uses: number) => consumers.get(t) === uses;

  // relu(x) + α·(−relu(−x))  [MTCNN]   and   relu(x) + α′·(x − |x|) = relu(x) + 2α′·min(x,0)  [MobileFaceNet]
  const matchPrelu = (addIdx: number, add: TfliteOperator): [Fused, number[]] | undefined => {
    if (add.op !== 'ADD' || add.activation !== 'NONE') return undefined;
    for (const [rt, mt] of [add.inputs, [...add.inputs].reverse()]) {
      const relu = opOf(rt);
      const mul = opOf(mt);
      if (rt === undefined || mt === undefined || relu?.[1].op !== 'RELU' || mul?.[1].op !== 'MUL') continue;
      if (mul[1].activation !== 'NONE' || !only(rt, 1) || !only(mt, 1)) continue;
      const x = relu[1].inputs[0];
      if (x === undefined) continue;
      const alphaIdx = mul[1].inputs.findIndex((t) => constant(t) instanceof Float32Array);
      const alpha = constant(mul[1].inputs[alphaIdx]);
      const other = mul[1].inputs[1 - alphaIdx];
      if (!(alpha instanceof Float32Array) || other === undefined || !only(other, 1)) continue;
      const inner = opOf(other);
      if (inner?.[1].op === 'NEG') {
        const relu2 = opOf(inner[1].inputs[0]);
        const neg1 = opOf(relu2?.[1].inputs[0]);
        if (relu2?.[1].op !== 'RELU' || neg1?.[1].op !== 'NEG' || neg1[1].inputs[0] !== x) continue;
        if (!only(relu2[1].outputs[0] ?? -1, 1) || !only(neg1[1].outputs[0] ?? -1, 1)) continue;
        const out = add.outputs[0] ?? -1;
        return [{ kind: 'prelu', x, alpha, out }, [addIdx, relu[0], mul[0], inner[0], relu2[0], neg1[0]]];
      }
      if (inner?.[1].op === 'SUB' && inner[1].activation === 'NONE' && inner[1].inputs[0] === x) {
        const abs = opOf(inner[1].inputs[1]);
        if (abs?.[1].op !== 'ABS' || abs[1].inputs[0] !== x || !only(abs[1].outputs[0] ?? -1, 1)) continue;
        const slope = alpha.map((a) => 2 * a);
        const out = add.outputs[0] ?? -1;
        return [{ kind: 'prelu', x, alpha: slope, out }, [addIdx, relu[0], mul[0], inner[0], abs[0]]];
      }
    }
    return undefined;
  };

  // exp(x − max(x)) / sum(exp(x − max(x))) over the last axis
  const matchSoftmax = (divIdx: number, div: TfliteOperator): [Fused, number[]] | undefined => {
    if (div.op !== 'DIV' || div.activation !== 'NONE') return undefined;
    const [et, st] = div.inputs;
    const exp = opOf(et);
    const sum = opOf(st);
    if (et === undefined || exp?.[1].op !== 'EXP' || sum?.[1].op !== 'SUM' || sum[1].inputs[0] !== et) return undefined;
    const sub = opOf(exp[1].inputs[0]);
    if (sub?.[1].op !== 'SUB' || sub[1].activation !== 'NONE') return undefined;
    const [x, mt] = sub[1].inputs;
    const max = opOf(mt);
    if (x === undefined || max?.[1].op !== 'REDUCE_MAX' || max[1].inputs[0] !== x) return undefined;
    const rank = g.tensors[x]?.shape.length ?? 0;
    const lastAxis = (op: TfliteOperator) => {
      const axes = constant(op.inputs[1]);
      return axes?.length === 1 && (axes[0] === rank - 1 || axes[0] === -1);
    };
    if (!lastAxis(max[1]) || !lastAxis(sum[1]) || !only(et, 2)) return undefined;
    const out = div.outputs[0] ?? -1;
    return [{ kind: 'softmax', x, out }, [divIdx, exp[0], sum[0], sub[0], max[0]]];
  };

  const roots = new Map<number, Fused>();
  const absorbed = new Set<number>();
  g.operators.forEach((op, i) => {
    const match = matchPrelu(i, op) ?? matchSoftmax(i, op);
    if (!match) return;
    roots.set(i, match[0]);
    for (const j of match[1]) absorbed.add(j);
  });
  return { roots, absorbed };
}

/** OHWI → OIHW. */
type Shape4 = [number, number, number, number];

function convWeights(w: Float32Array, [o, kh, kw, ci]: Shape4): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let c = 0; c < ci; c++) out[((a * ci + c) * kh + y) * kw + x] = w[((a * kh + y) * kw + x) * ci + c]!;
  return out;
}

/** [1,KH,KW,C] → [C,1,KH,KW] for a grouped (depthwise) Conv. */
function depthwiseWeights(w: Float32Array, [, kh, kw, c]: Shape4): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++) for (let k = 0; k < c; k++) out[(k * kh + y) * kw + x] = w[(y * kw + x) * c + k]!;
  return out;
}

/** [N,KH,KW] kernels → [N,KW,KH]: the same convolution on transposed images (see Preprocess.planar). */
function swapKernelAxes(w: Float32Array, n: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < n; a++)
    for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[(a * kw + x) * kh + y] = w[(a * kh + y) * kw + x]!;
  return out;
}

/**
 * Fully-connected weights [O, H·W·C] whose columns follow NHWC flattening → columns in NCHW order; `swapped`
 * when the ONNX graph runs the network in the other orientation (see Preprocess.planar), so its flattened input
 * is [C, W, H] of the TFLite tensor's axes.
 */
function fcWeightsNchw(w: Float32Array, o: number, [, h, wd, c]: number[], swapped: boolean): Float32Array {
  const H = h!;
  const W = wd!;
  const C = c!;
  const k = H * W * C;
  const out = new Float32Array(w.length);
  const column = swapped
    ? (ch: number, y: number, x: number) => (ch * W + x) * H + y
    : (ch: number, y: number, x: number) => (ch * H + y) * W + x;
  for (let a = 0; a < o; a++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let ch = 0; ch < C; ch++) out[a * k + column(ch, y, x)] = w[a * k + (y * W + x) * C + ch]!;
  return out;
}

/**
 * TF padding as explicit ONNX pads [before, after] for one axis, or undefined where it depends on a
 * symbolic input size (then the node uses auto_pad SAME_UPPER, which is TF's rule: extra padding after).
 */
function tfPads(
  padding: Padding,
  inSize: number | undefined,
  k: number,
  s: number,
  d: number,
): [number, number] | undefined {
  if (padding === 'VALID') return [0, 0];
  const span = (k - 1) * d + 1;
  let total: number;
  if (s === 1) total = span - 1;
  else if (inSize === undefined) return undefined;
  else total = Math.max((Math.ceil(inSize / s) - 1) * s + span - inSize, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

export function convertTflite(g: TfliteGraph, opts: ConvertOptions): ModelProto {
  const b = new GraphBuilder();
  const names = new Map<number, string>();
  const tensor = (i: number | undefined): TfliteTensor => {
    const t = i === undefined ? undefined : g.tensors[i];
    if (!t) throw new ConversionError(`missing tensor ${i}`);
    return t;
  };
  const spatial = (t: TfliteTensor, axis: 1 | 2) => (opts.dynamicSpatial ? undefined : t.shape[axis]);
  const clean = (name: string) => name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+/, '');
  const value = (i: number | undefined): string => {
    const t = tensor(i);
    const name = names.get(t.index);
    if (name !== undefined) return name;
    if (!(t.data instanceof Float32Array)) throw new ConversionError(`tensor ${t.name} is used before it is computed`);
    return constant(t, t.shape);
  };
  const constant = (t: TfliteTensor, dims: number[], data = t.data as Float32Array) =>
    b.floatConstant(clean(t.name), dims, data);

  // Input: the RGB batch in natural orientation, [N,H,W,3] (or [N,3,H,W]: Preprocess.planar), then the network's
  // own preprocessing.
  const inT = tensor(g.inputs[0]);
  if (g.inputs.length !== 1 || inT.shape.length !== 4 || inT.shape[3] !== 3) {
    throw new ConversionError(`expected one [N,H,W,3] input, got ${g.inputs.length} (${inT.shape})`);
  }
  const [sh, sw] = opts.preprocess.swapHW ? [inT.shape[2]!, inT.shape[1]!] : [inT.shape[1]!, inT.shape[2]!];
  const [rows, cols]: [Dim, Dim] = opts.dynamicSpatial ? ['height', 'width'] : [sh, sw];
  const inDims: Dim[] = opts.preprocess.planar ? ['batch', 3, rows, cols] : ['batch', rows, cols, 3];
  const image = b.input(opts.inputName, ElemType.FLOAT, inDims);
  names.set(inT.index, preprocess(b, image, 'nchw', opts.preprocess));

  // Outputs keep their TFLite tensors' producers; 4-D outputs of a swapped network are transposed back.
  const outIndex = new Map<number, string>();
  for (const [tfliteName, onnxName] of Object.entries(opts.outputs)) {
    const t = g.tensors.find((x) => x.name === tfliteName);
    if (!t || !g.outputs.includes(t.index)) throw new ConversionError(`${tfliteName} is not an output of the graph`);
    outIndex.set(t.index, onnxName);
  }
  if (outIndex.size !== g.outputs.length) throw new ConversionError('every TFLite output needs an ONNX name');
  // A swapped network on planar input runs in natural orientation with its kernels transposed (Preprocess.planar):
  // every spatial attribute swaps axes, and its outputs need no transpose back.
  const swapKernels = opts.preprocess.swapHW && opts.preprocess.planar === true;
  const swapBack = (t: number) => opts.preprocess.swapHW && !swapKernels && tensor(t).shape.length === 4;
  const axes = <T>(h: T, w: T): [T, T] => (swapKernels ? [w, h] : [h, w]);
  const target = (t: number | undefined): string | undefined => {
    if (t === undefined) return undefined;
    const named = outIndex.get(t);
    return named !== undefined && !swapBack(t) ? named : undefined;
  };
  const emit = (t: number | undefined, op: string, inputs: string[], attrs = {}, relu = false): void => {
    const out = target(t);
    const base = relu ? b.node(op, inputs, attrs) : b.node(op, inputs, attrs, out);
    names.set(tensor(t).index, relu ? b.node('Relu', [base], {}, out) : base);
  };

  // PReLU(x) = Relu(x) + (−α)·Relu(−x): one term is always 0, so the sum is α·x or x with no rounding difference.
  const preluAsConvs = (x: string, alpha: Float32Array, out: string | undefined): string => {
    const c = alpha.length;
    const depthwise = (input: string, weights: Float32Array, name: string) =>
      b.node('Conv', [input, b.floatConstant(name, [c, 1, 1, 1], weights)], {
        kernel_shape: { ints: [1, 1] },
        group: { int: c },
      });
    // A Neg node would leave the blocked layout again; a conv by −1 does not.
    const negated = depthwise(x, new Float32Array(c).fill(-1), 'prelu_negate');
    const negative = depthwise(
      b.node('Relu', [negated]),
      alpha.map((a) => -a),
      'prelu_slope',
    );
    return b.node('Add', [b.node('Relu', [x]), negative], {}, out);
  };

  const asConvs = (x: number) => tensor(x).shape.length === 4 && (opts.prelu ?? 'convs') === 'convs';

  const { roots, absorbed } = findPatterns(g);
  g.operators.forEach((op, i) => {
    const fused = roots.get(i);
    if (fused?.kind === 'prelu' && asConvs(fused.x)) {
      names.set(tensor(fused.out).index, preluAsConvs(value(fused.x), fused.alpha, target(fused.out)));
      return;
    }
    if (fused?.kind === 'prelu') {
      const rank = tensor(fused.x).shape.length;
      const slope = b.floatConstant(
        'prelu_slope',
        rank === 4 ? [fused.alpha.length, 1, 1] : [fused.alpha.length],
        fused.alpha,
      );
      emit(fused.out, 'PRelu', [value(fused.x), slope]);
      return;
    }
    if (fused?.kind === 'softmax') {
      emit(fused.out, 'Softmax', [value(fused.x)], { axis: { int: 1 } });
      return;
    }
    if (absorbed.has(i)) return;
    const out = op.outputs[0];
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const x = tensor(op.inputs[0]);
        const w = tensor(op.inputs[1]);
        if (!(w.data instanceof Float32Array) || w.shape.length !== 4)
          throw new ConversionError(`${w.name}: bad weights`);
        const [o, kh, kw, ci] = w.shape as Shape4;
        const depthwise = op.op === 'DEPTHWISE_CONV_2D';
        const [groups, perGroup] = depthwise ? [ci, 1] : [o, ci];
        let data = depthwise ? depthwiseWeights(w.data, [o, kh, kw, ci]) : convWeights(w.data, [o, kh, kw, ci]);
        if (swapKernels) data = swapKernelAxes(data, groups * perGroup, kh, kw);
        const weights = constant(w, [groups, perGroup, ...axes(kh, kw)], data);
        const inputs = [value(op.inputs[0]), weights];
        if ((op.inputs[2] ?? -1) >= 0) inputs.push(value(op.inputs[2]));
        const [ph, pw] = axes(
          tfPads(op.padding, spatial(x, 1), kh, op.strideH, op.dilationH),
          tfPads(op.padding, spatial(x, 2), kw, op.strideW, op.dilationW),
        );
        emit(
          out,
          'Conv',
          inputs,
          {
            kernel_shape: { ints: axes(kh, kw) },
            strides: { ints: axes(op.strideH, op.strideW) },
            dilations: { ints: axes(op.dilationH, op.dilationW) },
            ...(depthwise ? { group: { int: x.shape[3]! } } : {}),
            ...(ph && pw ? { pads: { ints: [ph[0], pw[0], ph[1], pw[1]] } } : { auto_pad: { string: 'SAME_UPPER' } }),
          },
          op.activation === 'RELU',
        );
        if (depthwise && op.depthMultiplier * x.shape[3]! !== ci)
          throw new ConversionError('depth multiplier mismatch');
        return;
      }
      case 'MAX_POOL_2D': {
        const x = tensor(op.inputs[0]);
        const [ph, pw] = axes(
          tfPads(op.padding, spatial(x, 1), op.filterH, op.strideH, 1),
          tfPads(op.padding, spatial(x, 2), op.filterW, op.strideW, 1),
        );
        emit(
          out,
          'MaxPool',
          [value(op.inputs[0])],
          {
            kernel_shape: { ints: axes(op.filterH, op.filterW) },
            strides: { ints: axes(op.strideH, op.strideW) },
            ...(ph && pw ? { pads: { ints: [ph[0], pw[0], ph[1], pw[1]] } } : { auto_pad: { string: 'SAME_UPPER' } }),
          },
          op.activation === 'RELU',
        );
        return;
      }
      case 'FULLY_CONNECTED': {
        const x = tensor(op.inputs[0]);
        const w = tensor(op.inputs[1]);
        if (!(w.data instanceof Float32Array) || w.shape.length !== 2)
          throw new ConversionError(`${w.name}: bad weights`);
        const [o, k] = w.shape as [number, number];
        let input = value(op.inputs[0]);
        let weights: string;
        if (x.shape.length === 4) {
          input = b.node('Flatten', [input], { axis: { int: 1 } });
          weights = constant(w, [o, k], fcWeightsNchw(w.data, o, x.shape, swapKernels));
        } else if (x.shape.length === 2) {
          weights = value(op.inputs[1]);
        } else throw new ConversionError(`fully-connected input of rank ${x.shape.length}`);
        const inputs = [input, weights];
        if ((op.inputs[2] ?? -1) >= 0) inputs.push(value(op.inputs[2]));
        emit(out, 'Gemm', inputs, { transB: { int: 1 } }, op.activation === 'RELU');
        return;
      }
      case 'ADD':
      case 'SUB':
      case 'MUL':
      case 'DIV': {
        const ranks = op.inputs.map((t) => tensor(t).shape.length);
        const maxRank = Math.max(...ranks);
        const operands = op.inputs.map((t) => {
          const x = tensor(t);
          if (names.has(x.index) || !(x.data instanceof Float32Array)) return value(t);
          // A per-channel constant broadcasts over NHWC's last axis; in NCHW it must be [C,1,1].
          if (x.shape.length === 1 && maxRank === 4) return constant(x, [x.shape[0]!, 1, 1]);
          if (x.shape.length <= 1 || maxRank <= 2) return value(t);
          throw new ConversionError(`${x.name}: constant of shape [${x.shape}] in ${op.op}`);
        });
        const opType = { ADD: 'Add', SUB: 'Sub', MUL: 'Mul', DIV: 'Div' }[op.op];
        emit(out, opType, operands, {}, op.activation === 'RELU');
        return;
      }
      case 'RELU':
      case 'NEG':
      case 'ABS':
      case 'EXP':
        emit(out, { RELU: 'Relu', NEG: 'Neg', ABS: 'Abs', EXP: 'Exp' }[op.op], [value(op.inputs[0])]);
        return;
      case 'RESHAPE': {
        const x = tensor(op.inputs[0]);
        const y = tensor(out);
        // Only the squeeze of a 1×1 spatial map to [N,C] is layout-independent; it becomes Flatten so the
        // batch stays dynamic even though the file hard-codes it.
        if (x.shape.length === 4 && x.shape[1] === 1 && x.shape[2] === 1 && y.shape.length === 2) {
          emit(out, 'Flatten', [value(op.inputs[0])], { axis: { int: 1 } });
          return;
        }
        throw new ConversionError(`RESHAPE from [${x.shape}] to [${y.shape}] is not supported`);
      }
      case 'SOFTMAX': {
        if (op.beta !== 1) throw new ConversionError('softmax with beta ≠ 1 is not supported');
        emit(out, 'Softmax', [value(op.inputs[0])], {
          axis: { int: tensor(op.inputs[0]).shape.length === 4 ? 1 : -1 },
        });
        return;
      }
      case 'PRELU': {
        const a = tensor(op.inputs[1]);
        if (!(a.data instanceof Float32Array)) throw new ConversionError('PRELU needs a constant slope');
        if (asConvs(op.inputs[0]!) && a.data.length === tensor(op.inputs[0]).shape[3]) {
          names.set(tensor(out).index, preluAsConvs(value(op.inputs[0]), a.data, target(out)));
          return;
        }
        const dims = tensor(op.inputs[0]).shape.length === 4 ? [a.data.length, 1, 1] : [a.data.length];
        emit(out, 'PRelu', [value(op.inputs[0]), constant(a, dims)]);
        return;
      }
      default:
        throw new ConversionError(`${op.op} outside a softmax pattern is not supported`);
    }
  });

  for (const t of g.outputs) {
    const onnxName = outIndex.get(t)!;
    const shape = tensor(t).shape;
    let dims: Dim[];
    if (shape.length === 4) {
      const [, h, w, c] = shape as Shape4;
      const [oh, ow] = opts.preprocess.swapHW ? [w, h] : [h, w];
      dims = [
        'batch',
        c,
        opts.dynamicSpatial ? `${onnxName}_height` : oh,
        opts.dynamicSpatial ? `${onnxName}_width` : ow,
      ];
      if (swapBack(t)) b.node('Transpose', [value(t)], { perm: { ints: [0, 1, 3, 2] } }, onnxName);
    } else dims = ['batch', ...shape.slice(1)];
    b.output(onnxName, ElemType.FLOAT, dims);
  }
  return b.toModel(opts.graphName, opts.docString, opts.metadata);
}
