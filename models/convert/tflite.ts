// Reads the subset of the TFLite flatbuffer schema that our models use into plain typed objects.
// Field numbers follow tensorflow/lite/schema/schema.fbs; a flatbuffer field N lives at vtable slot 4 + 2N.
import { ByteBuffer } from 'flatbuffers';

export class TfliteFormatError extends Error {
  override name = 'TfliteFormatError';
}

/** Builtin operator codes we understand (schema.fbs `BuiltinOperator`). */
const BUILTIN_OPS = {
  0: 'ADD',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  9: 'FULLY_CONNECTED',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  19: 'RELU',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  41: 'SUB',
  42: 'DIV',
  47: 'EXP',
  54: 'PRELU',
  59: 'NEG',
  74: 'SUM',
  82: 'REDUCE_MAX',
  101: 'ABS',
} as const;

export type TfliteOpName = (typeof BUILTIN_OPS)[keyof typeof BUILTIN_OPS];
export type Padding = 'SAME' | 'VALID';
export type Activation = 'NONE' | 'RELU';

export interface WindowOptions {
  padding: Padding;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  activation: Activation;
}

export type TfliteOperator =
  | ({ op: 'CONV_2D' } & Base & WindowOptions)
  | ({ op: 'DEPTHWISE_CONV_2D'; depthMultiplier: number } & Base & WindowOptions)
  | ({ op: 'MAX_POOL_2D'; filterH: number; filterW: number } & Base & WindowOptions)
  | ({ op: 'FULLY_CONNECTED'; activation: Activation; keepNumDims: boolean } & Base)
  | ({ op: 'ADD' | 'SUB' | 'MUL' | 'DIV'; activation: Activation } & Base)
  | ({ op: 'RESHAPE'; newShape: number[] | undefined } & Base)
  | ({ op: 'SUM' | 'REDUCE_MAX'; keepDims: boolean } & Base)
  | ({ op: 'SOFTMAX'; beta: number } & Base)
  | ({ op: 'RELU' | 'NEG' | 'ABS' | 'EXP' | 'PRELU' } & Base);

interface Base {
  /** Tensor indices; -1 marks an omitted optional input (e.g. a missing bias). */
  inputs: number[];
  outputs: number[];
}

export type TensorType = 'float32' | 'int32';

export interface TfliteTensor {
  index: number;
  name: string;
  /** NHWC for 4-D activations, as the file stores it. */
  shape: number[];
  type: TensorType;
  /** Constant contents, when the tensor is backed by a non-empty buffer. */
  data: Float32Array | Int32Array | undefined;
}

export interface TfliteGraph {
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

/** A view of one flatbuffer table with typed field accessors. */
class Table {
  constructor(
    private readonly bb: ByteBuffer,
    private readonly pos: number,
  ) {}

  private slot(field: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * field);
  }

  int32(field: number, fallback = 0): number {
    const o = this.slot(field);
    return o ? this.bb.readInt32(this.pos + o) : fallback;
  }

  uint32(field: number, fallback = 0): number {
    const o = this.slot(field);
    return o ? this.bb.readUint32(this.pos + o) : fallback;
  }

  int8(field: number, fallback = 0): number {
    const o = this.slot(field);
    return o ? this.bb.readInt8(this.pos + o) : fallback;
  }

  float32(field: number, fallback = 0): number {
    const o = this.slot(field);
    return o ? this.bb.readFloat32(this.pos + o) : fallback;
  }

  string(field: number): string | undefined {
    const o = this.slot(field);
    return o ? (this.bb.__string(this.pos + o) as string) : undefined;
  }

  table(field: number): Table | undefined {
    const o = this.slot(field);
    return o ? new Table(this.bb, this.bb.__indirect(this.pos + o)) : undefined;
  }

  tables(field: number): Table[] {
    const o = this.slot(field);
    if (!o) return [];
    const start = this.bb.__vector(this.pos + o);
    const len = this.bb.__vector_len(this.pos + o);
    return Array.from({ length: len }, (_, i) => new Table(this.bb, this.bb.__indirect(start + 4 * i)));
  }

  int32s(field: number): number[] | undefined {
    const o = this.slot(field);
    if (!o) return undefined;
    const start = this.bb.__vector(this.pos + o);
    const len = this.bb.__vector_len(this.pos + o);
    return Array.from({ length: len }, (_, i) => this.bb.readInt32(start + 4 * i));
  }

  bytes(field: number): Uint8Array | undefined {
    const o = this.slot(field);
    if (!o) return undefined;
    const start = this.bb.__vector(this.pos + o);
    return this.bb.bytes().subarray(start, start + this.bb.__vector_len(this.pos + o));
  }
}

const TENSOR_TYPES: Record<number, TensorType> = { 0: 'float32', 2: 'int32' };
const ACTIVATIONS: Record<number, Activation> = { 0: 'NONE', 1: 'RELU' };

function activation(code: number, where: string): Activation {
  const a = ACTIVATIONS[code];
  if (a === undefined) throw new TfliteFormatError(`${where}: unsupported fused activation code ${code}`);
  return a;
}

function padding(code: number): Padding {
  return code === 1 ? 'VALID' : 'SAME';
}

function readOperator(opName: TfliteOpName, t: Table, where: string): TfliteOperator {
  const base: Base = { inputs: t.int32s(1) ?? [], outputs: t.int32s(2) ?? [] };
  const o = t.table(4); // builtin_options
  const opt = (field: number, fallback = 0) => o?.int32(field, fallback) ?? fallback;
  const opt8 = (field: number, fallback = 0) => o?.int8(field, fallback) ?? fallback;
  switch (opName) {
    case 'CONV_2D': // Conv2DOptions: padding, stride_w, stride_h, fused_activation_function, dilation_w, dilation_h
      return {
        op: opName,
        ...base,
        padding: padding(opt8(0)),
        strideW: opt(1, 1),
        strideH: opt(2, 1),
        activation: activation(opt8(3), where),
        dilationW: opt(4, 1),
        dilationH: opt(5, 1),
      };
    case 'DEPTHWISE_CONV_2D': // padding, stride_w, stride_h, depth_multiplier, fused_activation, dilation_w, dilation_h
      return {
        op: opName,
        ...base,
        padding: padding(opt8(0)),
        strideW: opt(1, 1),
        strideH: opt(2, 1),
        depthMultiplier: opt(3, 1),
        activation: activation(opt8(4), where),
        dilationW: opt(5, 1),
        dilationH: opt(6, 1),
      };
    case 'MAX_POOL_2D': // Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height, fused_activation
      return {
        op: opName,
        ...base,
        padding: padding(opt8(0)),
        strideW: opt(1, 1),
        strideH: opt(2, 1),
        filterW: opt(3, 1),
        filterH: opt(4, 1),
        activation: activation(opt8(5), where),
        dilationW: 1,
        dilationH: 1,
      };
    case 'FULLY_CONNECTED': // fused_activation_function, weights_format, keep_num_dims
      if (opt8(1) !== 0) throw new TfliteFormatError(`${where}: only DEFAULT fully-connected weights are supported`);
      return { op: opName, ...base, activation: activation(opt8(0), where), keepNumDims: opt8(2) !== 0 };
    case 'ADD':
    case 'SUB':
    case 'MUL':
    case 'DIV':
      return { op: opName, ...base, activation: activation(opt8(0), where) };
    case 'RESHAPE':
      return { op: opName, ...base, newShape: o?.int32s(0) };
    case 'SUM':
    case 'REDUCE_MAX':
      return { op: opName, ...base, keepDims: opt8(0) !== 0 };
    case 'SOFTMAX':
      return { op: opName, ...base, beta: o?.float32(0, 1) ?? 1 };
    default:
      return { op: opName, ...base };
  }
}

function copyTyped(bytes: Uint8Array, type: TensorType): Float32Array | Int32Array {
  // A fresh, aligned copy: Node's Buffer#slice would return a view into the whole file instead.
  const copy = new Uint8Array(bytes);
  return type === 'float32'
    ? new Float32Array(copy.buffer, 0, copy.byteLength / 4)
    : new Int32Array(copy.buffer, 0, copy.byteLength / 4);
}

/** Parses a .tflite file. Only the first subgraph is read; our models have one. */
export function readTflite(bytes: Uint8Array): TfliteGraph {
  if (bytes.byteLength < 8 || new TextDecoder().decode(bytes.subarray(4, 8)) !== 'TFL3') {
    throw new TfliteFormatError('not a TFLite flatbuffer (missing TFL3 identifier)');
  }
  const bb = new ByteBuffer(bytes);
  const model = new Table(bb, bb.readInt32(bb.position()) + bb.position());
  const buffers = model.tables(4).map((b) => b.bytes(0));
  const opNames = model.tables(1).map((c, i) => {
    // builtin_code (field 3) superseded deprecated_builtin_code (field 0, int8) once codes passed 127.
    const code = Math.max(c.int8(0), c.int32(3));
    const name = BUILTIN_OPS[code as keyof typeof BUILTIN_OPS];
    if (name === undefined) throw new TfliteFormatError(`operator code #${i}: unsupported builtin operator ${code}`);
    return name;
  });
  const subgraph = model.tables(2)[0];
  if (subgraph === undefined) throw new TfliteFormatError('the model has no subgraph');

  const tensors = subgraph.tables(0).map((t, index): TfliteTensor => {
    const typeCode = t.int8(1);
    const type = TENSOR_TYPES[typeCode];
    const name = t.string(3) ?? `tensor_${index}`;
    // Quantized models (int8/uint8 tensors) end here too: they are not supported.
    if (type === undefined) throw new TfliteFormatError(`tensor ${name}: unsupported type code ${typeCode}`);
    const buf = buffers[t.uint32(2)];
    return {
      index,
      name,
      shape: t.int32s(0) ?? [],
      type,
      data: buf && buf.byteLength > 0 ? copyTyped(buf, type) : undefined,
    };
  });
  const operators = subgraph.tables(3).map((t, i) => {
    const opName = opNames[t.uint32(0)];
    if (opName === undefined) throw new TfliteFormatError(`operator #${i}: bad opcode index`);
    return readOperator(opName, t, `operator #${i} (${opName})`);
  });
  return { tensors, operators, inputs: subgraph.int32s(1) ?? [], outputs: subgraph.int32s(2) ?? [] };
}
