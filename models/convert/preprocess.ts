// The graph prologue every model we ship starts with: it takes the RGB batch exactly as sharp decodes it
// ([N,H,W,3], values 0..255, as float32) so callers never run per-pixel loops to normalise or transpose.
import type { GraphBuilder } from '../onnx/graphBuilder.ts';

export interface Preprocess {
  /** Network input = (pixel − mean) · scale. */
  mean: number;
  scale: number;
  /**
   * The MTCNN weights were trained on transposed images (Caffe's column-major convention), so the network
   * sees width and height swapped. The prologue transposes the image and outputs are transposed back (unless
   * `planar`).
   */
  swapHW: boolean;
  /**
   * The input comes planar, [N,3,H,W] in natural orientation, as the detector's pyramid makes it: the prologue
   * transposes nothing. A swapHW network then has its kernels (and fully-connected weights) transposed instead of
   * its input, so its outputs come in natural orientation too. The MTCNN nets: no transpose before or after each
   * pyramid level or batch of crops. Default: the RGB batch as decoded, [N,H,W,3].
   */
  planar?: boolean;
}

/** Returns the name of the normalised tensor in the layout the network expects. */
export function preprocess(b: GraphBuilder, image: string, layout: 'nchw' | 'nhwc', p: Preprocess): string {
  const centred = b.node('Sub', [image, b.floatConstant('pixel_mean', [], Float32Array.of(p.mean))]);
  const scaled = b.node('Mul', [centred, b.floatConstant('pixel_scale', [], Float32Array.of(p.scale))]);
  if (p.planar) return scaled;
  // From [N,H,W,C]: NCHW is perm [0,3,1,2]; with H and W swapped, [0,3,2,1] (NHWC: [0,2,1,3]).
  const perm = layout === 'nchw' ? (p.swapHW ? [0, 3, 2, 1] : [0, 3, 1, 2]) : p.swapHW ? [0, 2, 1, 3] : undefined;
  return perm ? b.node('Transpose', [scaled], { perm: { ints: perm } }) : scaled;
}
