// Typed encode/decode of ONNX models through protobufjs and our schema subset (onnx.proto beside this file).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

export const ElemType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: number[];
  int32Data?: number[];
  dataLocation?: number;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name?: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: AttributeProto[];
}

export interface Dimension {
  dimValue?: number;
  dimParam?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: Dimension[] } } };
}

export interface GraphProto {
  name?: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

export interface ModelProto {
  irVersion: number;
  opsetImport: { domain?: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph: GraphProto;
  metadataProps?: { key: string; value: string }[];
}

const root = protobuf.parse(readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8'), {
  keepCase: false,
}).root;
const ModelType = root.lookupType('onnx.ModelProto');

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelType.encode(ModelType.fromObject(model)).finish();
}

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  let message: protobuf.Message;
  try {
    message = ModelType.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`not a readable ONNX model: ${(err as Error).message}`);
  }
  const model = ModelType.toObject(message, { longs: Number, arrays: true, defaults: false }) as ModelProto;
  if (!model.graph) throw new OnnxFormatError('the ONNX model has no graph');
  model.graph.node ??= [];
  model.graph.initializer ??= [];
  model.graph.input ??= [];
  model.graph.output ??= [];
  return model;
}

/** The dims of a graph input or output: a number where fixed, the symbolic name (or undefined) where not. */
export function valueDims(info: ValueInfoProto): (number | string | undefined)[] {
  return (info.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimValue ?? d.dimParam);
}
