// Assignment: the Hungarian method (shortest augmenting paths with potentials, O(n²·m)) on a few faces.

/** Cost of a pair below the IoU gate: any complete assignment first maximises the number of allowed pairs. */
export const FORBIDDEN = 1e6;

/** Min-cost assignment with reusable buffers; one per tracker. */
export class Assignment {
  private u = new Float64Array(0);
  private v = new Float64Array(0);
  private p = new Int32Array(0);
  private way = new Int32Array(0);
  private minv = new Float64Array(0);
  private used = new Uint8Array(0);

  /**
   * Assigns rows to columns of the row-major `rows`×`cols` matrix `cost` at least total cost, writing each
   * row's column (or -1) into `rowToCol`. Every row gets a column when rows ≤ cols, and vice versa.
   */
  solve(cost: Float64Array, rows: number, cols: number, rowToCol: Int32Array): void {
    rowToCol.fill(-1, 0, rows);
    if (rows === 0 || cols === 0) return;
    // The method needs n ≤ m: walk the transposed matrix when there are more rows than columns.
    const t = rows > cols;
    const n = t ? cols : rows;
    const m = t ? rows : cols;
    const rs = t ? 1 : cols;
    const cs = t ? cols : 1;
    this.reserve(n, m);
    const { u, v, p, way, minv, used } = this;
    u.fill(0, 0, n + 1);
    v.fill(0, 0, m + 1);
    p.fill(0, 0, m + 1);
    for (let i = 1; i <= n; i++) {
      p[0] = i;
      let j0 = 0;
      minv.fill(Number.POSITIVE_INFINITY, 0, m + 1);
      used.fill(0, 0, m + 1);
      do {
        used[j0] = 1;
        const i0 = p[j0]!;
        let delta = Number.POSITIVE_INFINITY;
        let j1 = 0;
        for (let j = 1; j <= m; j++) {
          if (used[j]) continue;
          const cur = cost[(i0 - 1) * rs + (j - 1) * cs]! - u[i0]! - v[j]!;
          if (cur < minv[j]!) {
            minv[j] = cur;
            way[j] = j0;
          }
          if (minv[j]! < delta) {
            delta = minv[j]!;
            j1 = j;
          }
        }
        for (let j = 0; j <= m; j++) {
          if (used[j]) {
            u[p[j]!] = u[p[j]!]! + delta;
            v[j] = v[j]! - delta;
          } else minv[j] = minv[j]! - delta;
        }
        j0 = j1;
      } while (p[j0] !== 0);
      do {
        const j1 = way[j0]!;
        p[j0] = p[j1]!;
        j0 = j1;
      } while (j0 !== 0);
    }
    for (let j = 1; j <= m; j++) {
      const i = p[j]!;
      if (i === 0) continue;
      if (t) rowToCol[j - 1] = i - 1;
      else rowToCol[i - 1] = j - 1;
    }
  }

  private reserve(n: number, m: number): void {
    if (this.u.length > n && this.v.length > m) return;
    this.u = new Float64Array(Math.max(n + 1, this.u.length));
    this.v = new Float64Array(Math.max(m + 1, this.v.length));
    this.p = new Int32Array(this.v.length);
    this.way = new Int32Array(this.v.length);
    this.minv = new Float64Array(this.v.length);
    this.used = new Uint8Array(this.v.length);
  }
}
