// Kalman filter. The state is box centre x, y, width, height and their velocities (per second), with
// F = [[I, dt·I], [0, I]], H = [I, 0] and diagonal Q, R and initial P. With those, P stays block-diagonal
// per coordinate, so the 8-state filter is exactly four independent (position, velocity) filters: that is
// how it is stored, five numbers per coordinate, and no 8×8 products or 4×4 inverse are needed.
// Noise scales with the face's height (as in DeepSORT), so it is the same for near and far faces.

import type { Box } from '../../models/box.ts';

export const KF_STRIDE = 5; // pos, vel, var(pos), cov(pos, vel), var(vel)
/** Measurement noise σ, × height. */
const MEASURE_STD = 0.05;
/** Process noise σ per √second on position and velocity, × height. */
const POSITION_NOISE = 0.05;
const VELOCITY_NOISE = 0.5;
/** Initial velocity σ, × height per second: a face may move about its own height in a second. */
const INITIAL_VELOCITY_STD = 1;

export function initFilter(kf: Float64Array, { x1, y1, x2, y2 }: Box): void {
  const h = Math.max(1, y2 - y1);
  const z0 = (x1 + x2) / 2;
  const z1 = (y1 + y2) / 2;
  const z2 = x2 - x1;
  const z3 = y2 - y1;
  const posVar = (2 * MEASURE_STD * h) ** 2;
  const velVar = (INITIAL_VELOCITY_STD * h) ** 2;
  for (let c = 0; c < 4; c++) {
    const o = c * KF_STRIDE;
    kf[o] = c === 0 ? z0 : c === 1 ? z1 : c === 2 ? z2 : z3;
    kf[o + 1] = 0;
    kf[o + 2] = posVar;
    kf[o + 3] = 0;
    kf[o + 4] = velVar;
  }
}

/** Advances the filter by `dt` seconds: x ← F·x, P ← F·P·Fᵀ + Q. */
export function predictFilter(kf: Float64Array, dt: number): void {
  if (dt <= 0) return;
  const h = Math.max(1, kf[3 * KF_STRIDE]!);
  const qp = (POSITION_NOISE * h) ** 2 * dt;
  const qv = (VELOCITY_NOISE * h) ** 2 * dt;
  for (let o = 0; o < 4 * KF_STRIDE; o += KF_STRIDE) {
    const v = kf[o + 1]!;
    const a = kf[o + 2]!;
    const b = kf[o + 3]!;
    const c = kf[o + 4]!;
    kf[o] = kf[o]! + v * dt;
    kf[o + 2] = a + 2 * dt * b + dt * dt * c + qp;
    kf[o + 3] = b + dt * c;
    kf[o + 4] = c + qv;
  }
}

/** Folds in a measured box: K = P·Hᵀ·S⁻¹, x ← x + K·(z − H·x), P ← (I − K·H)·P. */
export function correctFilter(kf: Float64Array, { x1, y1, x2, y2 }: Box): void {
  const r = (MEASURE_STD * Math.max(1, y2 - y1)) ** 2;
  for (let c = 0; c < 4; c++) {
    const o = c * KF_STRIDE;
    const z = c === 0 ? (x1 + x2) / 2 : c === 1 ? (y1 + y2) / 2 : c === 2 ? x2 - x1 : y2 - y1;
    const a = kf[o + 2]!;
    const b = kf[o + 3]!;
    const s = a + r;
    const k0 = a / s;
    const k1 = b / s;
    const y = z - kf[o]!;
    kf[o] = kf[o]! + k0 * y;
    kf[o + 1] = kf[o + 1]! + k1 * y;
    kf[o + 4] = kf[o + 4]! - k1 * b;
    kf[o + 2] = (1 - k0) * a;
    kf[o + 3] = (1 - k0) * b;
  }
}

/** The filter's box `dt` seconds ahead, without changing the filter. */
export function projectBox(kf: Float64Array, dt: number): Box {
  const cx = kf[0]! + kf[1]! * dt;
  const cy = kf[KF_STRIDE]! + kf[KF_STRIDE + 1]! * dt;
  const w = Math.max(1, kf[2 * KF_STRIDE]! + kf[2 * KF_STRIDE + 1]! * dt);
  const h = Math.max(1, kf[3 * KF_STRIDE]! + kf[3 * KF_STRIDE + 1]! * dt);
  return { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 };
}
