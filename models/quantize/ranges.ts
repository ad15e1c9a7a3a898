// Activation ranges for static quantisation: measured by running the float model on calibration inputs with the
// tensors to quantise made graph outputs, and committed as JSON beside this file (users have no calibration
// data; the build derives the int8 model from the weights and that file alone).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ElemType, type ModelProto } from '../onnx/proto.ts';
import type { TensorRange } from './qdq.ts';

/** The float model with `tensors` added to its outputs, so one run returns them all. */
export function probeModel(model: ModelProto, tensors: readonly string[]): ModelProto {
  const present = new Set(model.graph.output.map((o) => o.name));
  const extra = tensors
    .filter((t) => !present.has(t))
    .map((name) => ({ name, type: { tensorType: { elemType: ElemType.FLOAT } } }));
  return { ...model, graph: { ...model.graph, output: [...model.graph.output, ...extra] } };
}

// Magnitudes are binned on a log scale, 16 bins an octave (±4.4%), from 2^-24 to 2^24: one pass over the data
// gives any percentile to within a bin without keeping the values.
const LOG_MIN = -24;
const BINS_PER_OCTAVE = 16;
const SIDE = 48 * BINS_PER_OCTAVE;

function binOf(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** LOG_MIN) return SIDE;
  const j = Math.min(SIDE - 1, Math.floor((Math.log2(a) - LOG_MIN) * BINS_PER_OCTAVE));
  return v > 0 ? SIDE + 1 + j : SIDE - 1 - j;
}

/** Lower and upper value of a bin (bins run from the most negative value up). */
function binEdges(bin: number): [number, number] {
  if (bin === SIDE) return [0, 0];
  const j = bin > SIDE ? bin - SIDE - 1 : SIDE - 1 - bin;
  const lo = 2 ** (LOG_MIN + j / BINS_PER_OCTAVE);
  const hi = 2 ** (LOG_MIN + (j + 1) / BINS_PER_OCTAVE);
  return bin > SIDE ? [lo, hi] : [-hi, -lo];
}

/** The percentiles recorded besides min and max: the fraction of values kept inside the range. */
export const PERCENTILES = ['99.99', '99.999'] as const;
export type RangeMethod = 'minmax' | `p${(typeof PERCENTILES)[number]}`;

export const TensorStats = z.object({
  min: z.number(),
  max: z.number(),
  /** By percentile: the range that leaves (100 − p)/2 % of the values out on each side (to within a bin). */
  percentiles: z.record(z.string(), z.tuple([z.number(), z.number()])),
});
export type TensorStats = z.infer<typeof TensorStats>;

export const RangeFile = z.object({
  /** The float model calibrated, and its sha256 (the build refuses a file measured on other weights). */
  model: z.string(),
  sha256: z.string(),
  /** What it was measured on, for people reading the file. */
  source: z.string(),
  samples: z.number().int().positive(),
  tensors: z.record(z.string(), TensorStats),
});
export type RangeFile = z.infer<typeof RangeFile>;

export class RangeCollector {
  private readonly stats = new Map<string, { min: number; max: number; count: number; bins: Float64Array }>();

  add(tensor: string, values: Float32Array): void {
    let s = this.stats.get(tensor);
    if (!s) {
      s = { min: Infinity, max: -Infinity, count: 0, bins: new Float64Array(2 * SIDE + 1) };
      this.stats.set(tensor, s);
    }
    let { min, max } = s;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      s.bins[binOf(v)]!++;
    }
    s.min = min;
    s.max = max;
    s.count += values.length;
  }

  result(): Record<string, TensorStats> {
    const out: Record<string, TensorStats> = {};
    for (const [tensor, s] of this.stats) {
      const percentiles: Record<string, [number, number]> = {};
      for (const p of PERCENTILES) {
        const tail = ((1 - Number(p) / 100) / 2) * s.count;
        percentiles[p] = [this.quantile(s, tail, 'lo'), this.quantile(s, tail, 'hi')];
      }
      out[tensor] = { min: s.min, max: s.max, percentiles };
    }
    return out;
  }

  /** The edge past which at most `tail` values lie, clamped to the values seen. */
  private quantile(s: { min: number; max: number; bins: Float64Array }, tail: number, side: 'lo' | 'hi'): number {
    let seen = 0;
    const n = s.bins.length;
    for (let k = 0; k < n; k++) {
      const bin = side === 'lo' ? k : n - 1 - k;
      seen += s.bins[bin]!;
      if (seen > tail) {
        const [lo, hi] = binEdges(bin);
        return side === 'lo' ? Math.max(lo, s.min) : Math.min(hi, s.max);
      }
    }
    return side === 'lo' ? s.min : s.max;
  }
}

/** The ranges a method picks from recorded stats. */
export function rangesOf(tensors: Record<string, TensorStats>, method: RangeMethod): Record<string, TensorRange> {
  return Object.fromEntries(
    Object.entries(tensors).map(([name, s]): [string, TensorRange] => {
      if (method === 'minmax') return [name, [s.min, s.max]];
      const r = s.percentiles[method.slice(1)];
      if (!r) throw new Error(`${name}: no ${method} range recorded`);
      return [name, r];
    }),
  );
}

export function readRangeFile(path: string | URL): RangeFile {
  return RangeFile.parse(JSON.parse(readFileSync(path, 'utf8')));
}
