// Face alignment: fit a similarity transform from detected landmarks to the ArcFace template and
// resample the face into a fixed-size crop. Embedders are trained on crops made exactly this way, so
// the template, the estimator and the sampling convention all follow insightface / OpenCV.

/** x' = a·x + b·y + tx, y' = c·x + d·y + ty (the row-major 2×3 matrix OpenCV uses). */
export type Affine = [a: number, b: number, tx: number, c: number, d: number, ty: number];

/** Any list of 2-D points: `[x, y][]`, `number[][]`, or readonly variants of either. */
export type Points = ArrayLike<ArrayLike<number>>;

export interface Image {
  data: Uint8Array | Float32Array;
  width: number;
  height: number;
  channels: number;
}

const template112: [number, number][] = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];
for (const point of template112) Object.freeze(point);

/**
 * The ArcFace 5-point template for a 112×112 crop: left eye, right eye, nose, left mouth corner, right
 * mouth corner, where "left" means the image's left. Every public ArcFace model expects this layout.
 */
export const ARCFACE_TEMPLATE_112: readonly [number, number][] = Object.freeze(template112);

/** The ArcFace template for a square crop of side `size`; it scales uniformly with the crop. */
export function arcfaceTemplate(size: number): [number, number][] {
  if (!(size > 0)) throw new RangeError(`arcfaceTemplate: size must be positive, got ${size}`);
  const s = size / 112;
  return ARCFACE_TEMPLATE_112.map(([x, y]) => [x * s, y * s]);
}

function coord(points: Points, i: number, axis: 0 | 1, what: string): number {
  const v = points[i]?.[axis];
  if (v === undefined || !Number.isFinite(v)) throw new RangeError(`${what}[${i}] is not a finite 2-D point`);
  return v;
}

/**
 * Least-squares similarity (rotation, uniform scale ≥ 0, translation; never a reflection) taking `src`
 * onto `dst`, i.e. Umeyama (1991). In 2-D the SVD with the reflection sign correction reduces to a closed
 * form: with centred points, the optimal linear part is [[p, −q], [q, p]] where p = Σ x·y / Σ|x|² and
 * q = Σ x×y / Σ|x|². Restricting to that form is what excludes reflections, so no sign fix-up is needed.
 */
export function similarityTransform(src: Points, dst: Points): Affine {
  const n = src.length;
  if (n !== dst.length) throw new RangeError(`similarityTransform: ${n} source points but ${dst.length} targets`);
  if (n < 2) throw new RangeError('similarityTransform: need at least 2 point pairs');

  let sx = 0;
  let sy = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < n; i++) {
    sx += coord(src, i, 0, 'src');
    sy += coord(src, i, 1, 'src');
    dx += coord(dst, i, 0, 'dst');
    dy += coord(dst, i, 1, 'dst');
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;

  let dot = 0;
  let cross = 0;
  let norm = 0;
  for (let i = 0; i < n; i++) {
    const ux = coord(src, i, 0, 'src') - sx;
    const uy = coord(src, i, 1, 'src') - sy;
    const vx = coord(dst, i, 0, 'dst') - dx;
    const vy = coord(dst, i, 1, 'dst') - dy;
    dot += ux * vx + uy * vy;
    cross += ux * vy - uy * vx;
    norm += ux * ux + uy * uy;
  }
  // Coincident source points leave rotation and scale undetermined; fail loudly rather than emit NaNs.
  if (!(norm > 1e-12)) throw new RangeError('similarityTransform: source points are (nearly) coincident');

  const p = dot / norm;
  const q = cross / norm;
  return [p, -q, dx - (p * sx - q * sy), q, p, dy - (q * sx + p * sy)];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, tx, c, d, ty] = m;
  const det = a * d - b * c;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError('invertAffine: matrix is singular');
  const ia = d / det;
  const ib = -b / det;
  const ic = -c / det;
  const id = a / det;
  return [ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)];
}

/** Apply `m` to one point. */
export function applyAffine(m: Affine, x: number, y: number): [number, number] {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

/**
 * Resample `src` into an `outW`×`outH` HWC float32 crop (values 0..255, channel order unchanged), with
 * `M` mapping source coordinates to crop coordinates. Matches OpenCV `warpAffine` with INTER_LINEAR and
 * BORDER_CONSTANT 0: pixel centres sit at integer coordinates and any bilinear tap outside the image reads
 * 0, so edges fade to black exactly as they did for the crops the embedder was trained on (OpenCV's
 * 1/32-pixel fixed-point quantisation aside; this computes the weights in full precision).
 *
 * `flip` writes the horizontally mirrored crop (output column x holds what column outW−1−x would), so
 * test-time flip augmentation costs no second transform. `out`/`outOffset` (in elements) place the crop
 * inside a caller's batch buffer; without `out` a fresh array of exactly one crop is returned.
 */
export function warpAffine(
  src: Image,
  M: Affine,
  outW: number,
  outH: number,
  out?: Float32Array,
  outOffset = 0,
  flip = false,
): Float32Array {
  const { data, width, height, channels: C } = src;
  if (!Number.isInteger(width) || !Number.isInteger(height) || !Number.isInteger(C) || width < 1 || height < 1 || C < 1)
    throw new RangeError(`warpAffine: bad source shape ${width}×${height}×${C}`);
  if (data.length < width * height * C)
    throw new RangeError(`warpAffine: source has ${data.length} values, shape needs ${width * height * C}`);
  if (!Number.isInteger(outW) || !Number.isInteger(outH) || outW < 1 || outH < 1)
    throw new RangeError(`warpAffine: bad output size ${outW}×${outH}`);
  const size = outW * outH * C;
  if (out === undefined) {
    if (outOffset !== 0) throw new RangeError('warpAffine: outOffset needs an out buffer');
    out = new Float32Array(size);
  } else if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + size > out.length) {
    throw new RangeError(`warpAffine: crop of ${size} values at offset ${outOffset} overruns buffer of ${out.length}`);
  }

  const [a, b, tx, c, d, ty] = invertAffine(M);
  const rowStride = width * C;
  const maxX = width - 1;
  const maxY = height - 1;

  for (let y = 0; y < outH; y++) {
    // Source position is affine in x, so each row is a start point plus x times a fixed step.
    const u0 = b * y + tx;
    const v0 = d * y + ty;
    const rowBase = outOffset + y * outW * C;
    for (let x = 0; x < outW; x++) {
      const u = u0 + a * x;
      const v = v0 + c * x;
      const o = rowBase + (flip ? outW - 1 - x : x) * C;
      const x0 = Math.floor(u);
      const y0 = Math.floor(v);
      // Entirely outside (no tap can land inside): constant border. Also catches NaN/±Infinity.
      if (!(x0 >= -1 && x0 <= maxX && y0 >= -1 && y0 <= maxY)) {
        for (let k = 0; k < C; k++) out[o + k] = 0;
        continue;
      }
      const fx = u - x0;
      const fy = v - y0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const p00 = y0 * rowStride + x0 * C;
      const p10 = p00 + rowStride;
      if (x0 >= 0 && x0 < maxX && y0 >= 0 && y0 < maxY) {
        for (let k = 0; k < C; k++) {
          out[o + k] =
            w00 * data[p00 + k]! + w01 * data[p00 + C + k]! + w10 * data[p10 + k]! + w11 * data[p10 + C + k]!;
        }
      } else {
        // Border pixel: drop the taps that fall outside, which is what a zero border contributes.
        const in0 = x0 >= 0;
        const in1 = x0 < maxX;
        const top = y0 >= 0;
        const bottom = y0 < maxY;
        for (let k = 0; k < C; k++) {
          let s = 0;
          if (top && in0) s += w00 * data[p00 + k]!;
          if (top && in1) s += w01 * data[p00 + C + k]!;
          if (bottom && in0) s += w10 * data[p10 + k]!;
          if (bottom && in1) s += w11 * data[p10 + C + k]!;
          out[o + k] = s;
        }
      }
    }
  }
  return out;
}
