// Nearest-person matching over all templates held in one Float32Array (rebuilt whenever the facebank changes).
import type { Match } from './types.ts';

export interface Template {
  person: string;
  /** L2-normalised. */
  embedding: Float32Array;
}

export const UNKNOWN = 'Unknown';

export class Matcher {
  /** Row-major, one template per row. */
  readonly matrix: Float32Array;
  /** For each row, an index into `names`. */
  private readonly owners: Int32Array;
  private readonly names: string[];
  readonly dim: number;
  private readonly best: Float64Array;

  constructor(templates: readonly Template[]) {
    this.dim = templates[0]?.embedding.length ?? 0;
    this.names = [...new Set(templates.map((t) => t.person))].sort();
    const index = new Map(this.names.map((n, i) => [n, i]));
    this.matrix = new Float32Array(templates.length * this.dim);
    this.owners = new Int32Array(templates.length);
    templates.forEach((t, row) => {
      if (t.embedding.length !== this.dim) {
        throw new Error(`template of ${t.person} has ${t.embedding.length} dimensions; expected ${this.dim}`);
      }
      this.matrix.set(t.embedding, row * this.dim);
      this.owners[row] = index.get(t.person)!;
    });
    this.best = new Float64Array(this.names.length);
  }

  get templates(): number {
    return this.owners.length;
  }

  get people(): number {
    return this.names.length;
  }

  match(embedding: Float32Array, threshold: number): Match {
    const { dim, matrix, owners, best } = this;
    const rows = owners.length;
    if (rows === 0) return { name: UNKNOWN, candidate: undefined, score: 0, margin: 0 };
    if (embedding.length !== dim) {
      throw new Error(`the embedding has ${embedding.length} dimensions; the facebank's templates have ${dim}`);
    }
    best.fill(Number.NEGATIVE_INFINITY);
    const dim4 = dim & ~3;
    for (let r = 0, off = 0; r < rows; r++, off += dim) {
      // Four accumulators: about 1.5× faster than one in V8.
      let a = 0;
      let b = 0;
      let c = 0;
      let d = 0;
      let k = 0;
      for (; k < dim4; k += 4) {
        a += matrix[off + k]! * embedding[k]!;
        b += matrix[off + k + 1]! * embedding[k + 1]!;
        c += matrix[off + k + 2]! * embedding[k + 2]!;
        d += matrix[off + k + 3]! * embedding[k + 3]!;
      }
      for (; k < dim; k++) a += matrix[off + k]! * embedding[k]!;
      const dot = a + b + c + d;
      const o = owners[r]!;
      if (dot > best[o]!) best[o] = dot;
    }
    let first = 0;
    let second = -1;
    for (let p = 1; p < best.length; p++) {
      if (best[p]! > best[first]!) {
        second = first;
        first = p;
      } else if (second < 0 || best[p]! > best[second]!) second = p;
    }
    const score = best[first]!;
    const margin = second < 0 ? 1 : score - best[second]!;
    const candidate = this.names[first]!;
    return { name: score >= threshold ? candidate : UNKNOWN, candidate, score, margin };
  }
}
