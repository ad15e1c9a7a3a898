// Accepts a user-supplied ONNX face embedder (e.g. an InsightFace-format 112×112 model with a 512-d output):
// reads its input layout and size from the graph and prepends the same prologue our own models have, so the
// wrapped model takes the RGB batch as decoded ([N,S,S,3], 0..255) and the embedder code serves it unchanged.
import { GraphBuilder, valueInfo } from '../onnx/graphBuilder.ts';
import { ElemType, type ModelProto, valueDims } from '../onnx/proto.ts';
import { preprocess } from './preprocess.ts';
import { ConversionError } from './tfliteToOnnx.ts';

export interface EmbedderNormalisation {
  /** Network input = (pixel − mean) · scale. InsightFace models use mean 127.5, scale 1/127.5. */
  mean: number;
  scale: number;
}

export interface WrappedEmbedder {
  model: ModelProto;
  layout: 'nchw' | 'nhwc';
  size: number;
  dim: number | undefined;
}

export function wrapEmbedder(user: ModelProto, norm: EmbedderNormalisation): WrappedEmbedder {
  const g = user.graph;
  const initializers = new Set(g.initializer.map((t) => t.name));
  const inputs = g.input.filter((i) => !initializers.has(i.name));
  if (inputs.length !== 1) throw new ConversionError(`an embedder must have one input; this one has ${inputs.length}`);
  if (g.initializer.some((t) => t.dataLocation === 1)) {
    throw new ConversionError('models with external weight files are not supported: save the model as one file');
  }
  const opset = user.opsetImport.find((o) => !o.domain)?.version ?? 0;
  if (opset < 7) throw new ConversionError(`opset ${opset} is too old (7 or newer is needed for broadcasting)`);

  const input = inputs[0]!;
  const dims = valueDims(input);
  const layout = dims[1] === 3 ? 'nchw' : dims[3] === 3 ? 'nhwc' : undefined;
  const [h, w] = layout === 'nchw' ? [dims[2], dims[3]] : [dims[1], dims[2]];
  if (dims.length !== 4 || layout === undefined || typeof h !== 'number' || h !== w) {
    throw new ConversionError(`the embedder input must be [N,3,S,S] or [N,S,S,3] with a fixed S, got [${dims}]`);
  }
  const output = g.output[0];
  const outDims = output ? valueDims(output) : [];
  if (!output || outDims.length !== 2)
    throw new ConversionError(`the embedder's first output must be [N,D], got [${outDims}]`);

  const b = new GraphBuilder();
  b.reserve([
    ...g.node.flatMap((n) => [...n.input, ...n.output, n.name ?? '']),
    ...initializers,
    ...g.input.map((i) => i.name),
    ...g.output.map((o) => o.name),
  ]);
  const image = b.unique('image');
  const prepared = preprocess(b, image, layout, { ...norm, swapHW: false });
  // The original graph keeps reading its input by name; the prologue's result takes that name.
  b.node('Identity', [prepared], {}, input.name);
  const batch = typeof dims[0] === 'number' ? dims[0] : 'batch';
  const model: ModelProto = {
    ...user,
    graph: {
      ...g,
      node: [...b.nodes, ...g.node],
      initializer: [...g.initializer, ...b.initializers],
      input: [valueInfo(image, ElemType.FLOAT, [batch, h, h, 3]), ...g.input.filter((i) => initializers.has(i.name))],
    },
  };
  const dim = outDims[1];
  return { model, layout, size: h, dim: typeof dim === 'number' ? dim : undefined };
}
