// Builds ONNX graphs node by node. Shared by the TFLite converter and by the input wrapper for
// user-supplied models, so both emit initializers, attributes and value infos the same way.
import {
  type AttributeProto,
  AttrType,
  ElemType,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './proto.ts';

export type Dim = number | string;
export type Attr = { int: number } | { ints: number[] } | { float: number } | { string: string };

export const OPSET = 17;
const IR_VERSION = 8;

function attribute(name: string, a: Attr): AttributeProto {
  if ('int' in a) return { name, type: AttrType.INT, i: a.int };
  if ('ints' in a) return { name, type: AttrType.INTS, ints: a.ints };
  if ('float' in a) return { name, type: AttrType.FLOAT, f: a.float };
  return { name, type: AttrType.STRING, s: new TextEncoder().encode(a.string) };
}

export function valueInfo(name: string, elemType: number, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();

  /** Marks names that already exist in a graph being extended, so new names never collide with them. */
  reserve(names: Iterable<string>): void {
    for (const name of names) this.used.add(name);
  }

  /** A name not used before in this graph, derived from `base`. */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  floatConstant(base: string, dims: number[], data: Float32Array): string {
    return this.rawConstant(base, dims, ElemType.FLOAT, data);
  }

  /** An initializer stored as raw little-endian bytes (what x86 and ARM hosts hold in typed arrays). */
  rawConstant(
    base: string,
    dims: number[],
    dataType: number,
    data: Float32Array | Int32Array | Int8Array | Uint8Array,
  ): string {
    const name = this.unique(base);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    this.initializers.push({ name, dims, dataType, rawData: bytes });
    return name;
  }

  int64Constant(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [values.length], dataType: ElemType.INT64, int64Data: values });
    return name;
  }

  /** Adds a single-output node and returns the output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    const out = output ?? this.unique(opType.toLowerCase());
    if (output !== undefined) this.used.add(output);
    this.nodes.push({
      name: this.unique(`${opType}_node`),
      opType,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: number, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  toModel(graphName: string, docString: string, metadata: Record<string, string> = {}, opset = OPSET): ModelProto {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: opset }],
      producerName: 'facerec',
      docString,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
  }
}
