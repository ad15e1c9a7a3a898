// Static int8 quantisation of a float ONNX graph in the QDQ format: QuantizeLinear/DequantizeLinear pairs around
// the tensors of the ops onnxruntime's CPU provider has int8 kernels for. The graph still reads as float; at
// session start onnxruntime fuses each DequantizeLinear → op → QuantizeLinear into QLinearConv / QGemm /
// QLinearAdd, which run on u8×s8 dot products (AVX-512 VNNI where the CPU has it).
// - Weights: int8, symmetric, one scale per output channel (zero point 0, which QLinearConv requires).
// - Biases: int32 at scale input_scale × weight_scale[c], the layout the fused kernels add without rescaling.
// - Activations: uint8, asymmetric, one scale per tensor, from calibrated ranges (models/quantize/ranges.ts).
// Ops without int8 kernels (PRelu, Softmax, MaxPool...) stay float between a DequantizeLinear and a
// QuantizeLinear: the quantised op's output must feed a QuantizeLinear only, or onnxruntime does not fuse it.
import { GraphBuilder } from '../onnx/graphBuilder.ts';
import { ElemType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.ts';

/** The calibrated range of one activation tensor. */
export type TensorRange = readonly [lo: number, hi: number];

export class QuantizationError extends Error {
  override name = 'QuantizationError';
}

export interface QdqOptions {
  /** Outputs of ops to leave in float, by tensor name (e.g. the layer that produces the embedding). */
  keepFloat?: readonly string[];
  /**
   * Weights in 7 bits (±63) instead of 8: u8×s8 products summed in pairs then fit int16 without saturating on
   * CPUs whose int8 dot product lacks VNNI (AVX2, AVX-512 without VNNI), at some accuracy cost.
   */
  reduceRange?: boolean;
}

/** Ops whose weights (input 1, with the bias at input 2) are quantised per output channel. */
const WEIGHTED = new Set(['Conv', 'Gemm']);
/** Ops with an int8 kernel over quantised activation inputs only. */
const ELEMENTWISE = new Set(['Add']);

function attributeInt(node: NodeProto, name: string, fallback: number): number {
  return node.attribute?.find((a) => a.name === name)?.i ?? fallback;
}

/** The axis of the weights that indexes output channels, or undefined when the node cannot be quantised. */
function weightAxis(node: NodeProto): number | undefined {
  if (node.opType === 'Conv') return 0;
  // Y = αA·B' + βC: only α = β = 1 keeps the int32 bias at the product's scale.
  const unit = (name: string) => (node.attribute?.find((a) => a.name === name)?.f ?? 1) === 1;
  if (node.opType === 'Gemm' && attributeInt(node, 'transA', 0) === 0 && unit('alpha') && unit('beta')) {
    return attributeInt(node, 'transB', 0) === 1 ? 0 : 1;
  }
  return undefined;
}

function quantizable(node: NodeProto, initializers: Map<string, TensorProto>, keep: Set<string>): boolean {
  if (node.output.some((o) => keep.has(o))) return false;
  if (WEIGHTED.has(node.opType)) {
    return (
      initializers.has(node.input[1] ?? '') && !initializers.has(node.input[0] ?? '') && weightAxis(node) !== undefined
    );
  }
  return ELEMENTWISE.has(node.opType) && node.input.every((i) => !initializers.has(i));
}

/** The quantised ops' activation inputs and outputs, in graph order: the tensors calibration must measure. */
export function quantizedTensors(model: ModelProto, options: QdqOptions = {}): string[] {
  const initializers = new Map(model.graph.initializer.map((t) => [t.name, t]));
  const keep = new Set(options.keepFloat ?? []);
  const tensors = new Set<string>();
  for (const node of model.graph.node) {
    if (!quantizable(node, initializers, keep)) continue;
    const data = WEIGHTED.has(node.opType) ? [node.input[0]!] : node.input;
    for (const t of [...data, node.output[0]!]) tensors.add(t);
  }
  return [...tensors];
}

/** The float values of an initializer (raw bytes or float_data). */
export function floatValues(t: TensorProto): Float32Array {
  if (t.dataType !== ElemType.FLOAT) throw new QuantizationError(`${t.name}: weights must be float32`);
  // A copy: a decoded raw_data may be a Buffer view into a larger, unaligned pool.
  if (t.rawData) return new Float32Array(new Uint8Array(t.rawData).buffer);
  return Float32Array.from(t.floatData ?? []);
}

/** uint8 scale and zero point for a range; the range is widened to hold 0, which must be exact (padding). */
export function activationParams([lo, hi]: TensorRange): { scale: number; zeroPoint: number } {
  const min = Math.min(lo, 0);
  const max = Math.max(hi, 0);
  const scale = Math.fround(max > min ? (max - min) / 255 : 1);
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

interface QuantizedWeights {
  values: Int8Array;
  /** One per output channel. */
  scales: Float32Array;
}

/** Symmetric per-channel int8 weights along `axis` of `dims`. */
export function quantizeWeights(w: Float32Array, dims: number[], axis: number, qmax: number): QuantizedWeights {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const absMax = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    absMax[c] = Math.max(absMax[c]!, Math.abs(w[i]!));
  }
  const scales = absMax.map((m) => (m > 0 ? m / qmax : 1));
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const c = Math.floor(i / inner) % channels;
    values[i] = Math.max(-qmax, Math.min(qmax, Math.round(w[i]! / scales[c]!)));
  }
  return { values, scales };
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * The graph with QDQ pairs around every quantisable op (see the file's head). `ranges` must hold every tensor
 * quantizedTensors() lists for the same options.
 */
export function quantizeQdq(
  model: ModelProto,
  ranges: Readonly<Record<string, TensorRange>>,
  options: QdqOptions = {},
): ModelProto {
  const g = model.graph;
  const initializers = new Map(g.initializer.map((t) => [t.name, t]));
  const keep = new Set(options.keepFloat ?? []);
  const qmax = options.reduceRange ? 63 : 127;
  const tensors = quantizedTensors(model, options);
  const missing = tensors.filter((t) => ranges[t] === undefined);
  if (missing.length > 0) {
    throw new QuantizationError(
      `no calibrated range for ${missing.length} tensor(s) (${missing.slice(0, 3).join(', ')}...): calibrate again`,
    );
  }

  const b = new GraphBuilder();
  b.reserve([
    ...g.node.flatMap((n) => [...n.input, ...n.output, n.name ?? '']),
    ...initializers.keys(),
    ...g.input.map((i) => i.name),
    ...g.output.map((o) => o.name),
  ]);
  const params = new Map<string, { scale: string; zeroPoint: string; value: number }>();
  for (const t of tensors) {
    const { scale, zeroPoint } = activationParams(ranges[t]!);
    params.set(t, {
      scale: b.floatConstant(`${t}_scale`, [], Float32Array.of(scale)),
      zeroPoint: b.rawConstant(`${t}_zero_point`, [], ElemType.UINT8, Uint8Array.of(zeroPoint)),
      value: scale,
    });
  }
  const qdq = (input: string, t: string, output?: string): string => {
    const p = params.get(t)!;
    const q = b.node('QuantizeLinear', [input, p.scale, p.zeroPoint], {}, b.unique(`${t}_quantized`));
    return b.node('DequantizeLinear', [q, p.scale, p.zeroPoint], {}, output ?? b.unique(`${t}_dequantized`));
  };

  // A graph input that is quantised is read through its QDQ pair; other tensors keep their names (the QDQ pair
  // writes them), only their producer's output is renamed.
  const renamed = new Map<string, string>();
  for (const input of g.input) if (params.has(input.name)) renamed.set(input.name, qdq(input.name, input.name));

  const replaced = new Set<string>();
  for (const node of g.node) {
    const inputs = node.input.map((i) => renamed.get(i) ?? i);
    if (quantizable(node, initializers, keep) && WEIGHTED.has(node.opType)) {
      const axis = weightAxis(node)!;
      const w = initializers.get(node.input[1]!)!;
      const { values, scales } = quantizeWeights(floatValues(w), w.dims, axis, qmax);
      const channels = scales.length;
      const wScale = b.floatConstant(`${w.name}_scale`, [channels], scales);
      const wZero = b.rawConstant(`${w.name}_zero_point`, [channels], ElemType.INT8, new Int8Array(channels));
      const wq = b.rawConstant(`${w.name}_quantized`, w.dims, ElemType.INT8, values);
      inputs[1] = b.node('DequantizeLinear', [wq, wScale, wZero], { axis: { int: axis } }, b.unique(`${w.name}_dq`));
      replaced.add(w.name);
      const biasName = node.input[2];
      if (biasName) {
        const bias = initializers.get(biasName);
        if (!bias) throw new QuantizationError(`${node.opType} ${node.output[0]}: the bias must be a constant`);
        const inputScale = params.get(node.input[0]!)!.value;
        const bScales = scales.map((s) => Math.fround(inputScale * s));
        const bf = floatValues(bias);
        if (bf.length !== channels) throw new QuantizationError(`${bias.name}: one bias per output channel expected`);
        const bq = Int32Array.from(bf, (v, c) =>
          Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(v / bScales[c]!))),
        );
        const bScale = b.floatConstant(`${bias.name}_scale`, [channels], bScales);
        const bZero = b.rawConstant(`${bias.name}_zero_point`, [channels], ElemType.INT32, new Int32Array(channels));
        const bqName = b.rawConstant(`${bias.name}_quantized`, [channels], ElemType.INT32, bq);
        inputs[2] = b.node(
          'DequantizeLinear',
          [bqName, bScale, bZero],
          { axis: { int: 0 } },
          b.unique(`${bias.name}_dq`),
        );
        replaced.add(bias.name);
      }
    }
    const out = node.output[0]!;
    if (!params.has(out)) {
      b.nodes.push({ ...node, input: inputs });
      continue;
    }
    const raw = b.unique(`${out}_float`);
    b.nodes.push({ ...node, input: inputs, output: [raw, ...node.output.slice(1)] });
    qdq(raw, out, out);
  }

  // Float weights still read by an op left in float stay.
  const stillRead = new Set(b.nodes.flatMap((n) => n.input));
  const kept = g.initializer.filter((t) => !replaced.has(t.name) || stillRead.has(t.name));
  return {
    ...model,
    // QuantizeLinear/DequantizeLinear with a per-channel axis need opset 13.
    opsetImport: model.opsetImport.map((o) => (!o.domain && o.version < 13 ? { ...o, version: 13 } : o)),
    graph: { ...g, node: b.nodes, initializer: [...kept, ...b.initializers] },
  };
}
