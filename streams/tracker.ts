// Face tracking for one camera: detections are tied across frames into tracks (constant-velocity Kalman
// prediction + IoU + Hungarian assignment), and each track carries an identity decided from all its evidence
// (identity.ts: the quality-weighted mean of its face embeddings, matched as one probe), so a name belongs to
// a track, not to a frame. A track is one person: an embedding far from the track's own evidence ends it and
// starts a new track in its place, with its own name, visit and best face. Pure and synchronous: time comes in
// as arguments (the frame's capture time), nothing here reads the clock.
//
// Events, per visit. A visit is what the dashboard sees: `person_appeared` once a track's name is decided
// (Unknown included, so unknown visitors are shown), `person_left` when it ends. The end of a visit is held
// back for `cooldownMs` after the person was last seen: if a track decides the same name within that time
// (a brief occlusion, a detector drop-out, a name flicker), it continues the visit and neither event is
// sent. So every visit yields exactly one appeared and one left event, paired by (trackId, name); the left
// event's `at` is when the person was last seen, and it is emitted `cooldownMs` later. For 'Unknown' the
// name says nothing about who it is, so a new Unknown track continues an Unknown visit only when it starts
// near where that visit was last seen and its face is the same (their mean embeddings agree).
import { UNKNOWN } from '../facebank/matcher.ts';
import { SAME_LOOK_MIN, signatureSimilarity } from '../models/faceSignature.ts';
import type { Point } from '../models/mtcnn/detector.ts';
import { faceWeight, IdentityDecision, type IdentityMatcher, SAME_FACE_MIN, TrackEvidence } from './identity.ts';
import type { Box, PersonEvent, TrackedFace } from './types.ts';

export type { IdentityMatcher, Observation } from './identity.ts';

export interface TrackerDetection {
  box: { x1: number; y1: number; x2: number; y2: number };
  /** Detector confidence. */
  score: number;
  landmarks?: Point[];
  /** This face's embedding (L2-normalised) when it was embedded in this frame; undefined when it was not. */
  embedding?: Float32Array | undefined;
  /** The face's appearance (models/faceSignature.ts), when computed: keeps a track on one physical face. */
  signature?: Float32Array | undefined;
  /** The face's overall quality, 0..1 (models/quality.ts), when measured: how much its embedding counts. */
  quality?: number | undefined;
}

/** Where a track's best face is, so the pipeline can cut a crop: the frame and box, never pixels. */
export interface BestFace {
  trackId: number;
  /** The frame's `seq`, when passed to `update`. */
  seq: number | undefined;
  box: Box;
  /** Detection score × box area: the largest confident face makes the best crop. */
  quality: number;
  at: number;
}

/** A settled track's expected box and its look at its last embedding (see `FaceTracker.settledFaces`). */
export interface SettledFace {
  box: Box;
  signature?: Float32Array;
}

/** A person event before the hub gives it an id and camera, with the face to crop for it. */
export type TrackerEvent = Omit<PersonEvent, 'id' | 'cameraId' | 'crop'> & { best: BestFace };

export interface TrackerUpdate extends Outcome {
  /** One per detection, in the same order. */
  faces: TrackedFace[];
  /**
   * One per detection: whether its track wanted an embedding in this frame (new, undecided, its appearance
   * changed since its last embedding, or due for a re-check).
   */
  embed: boolean[];
  /** One per detection: whether it is now its track's best face (crop it now if crops are kept). */
  best: boolean[];
}

/** What a call changed besides the faces: events to publish and best faces no longer referred to. */
export interface Outcome {
  events: TrackerEvent[];
  /** Track ids whose best face no event will refer to any more: drop their crops. */
  released: number[];
}

export interface TrackerOptions {
  /** Least IoU between a track's predicted box and a detection for them to be the same face. */
  minIou: number;
  /** A track ends after this many detection frames in a row without its face. */
  maxMissed: number;
  /** …or when its face has not been seen for this long, whatever the detection rate. */
  maxAgeMs: number;
  /** A track's name is first decided once it has this many embeddings. */
  evidenceToDecide: number;
  /** A decided name changes only when this many answers in a row (one per new embedding) give another. */
  answersToChange: number;
  /** Cosine with a track's mean embedding below which a new embedding is another person (see identity.ts). */
  sameFaceMin: number;
  /** A decided track's face is embedded again after this long. */
  recheckMs: number;
  /**
   * Appearance similarity with the face at the track's last embedding below which its face is embedded again
   * at once (the embedding then says whether it is still the same person).
   */
  recheckBelow: number;
  /** A visit's end is held back this long, so a re-appearance within it continues the visit. */
  cooldownMs: number;
  /**
   * Least appearance similarity (signatures of the track's last face and the detection) for a detection to
   * continue a track; below it the detection is another face in the same place and starts a new track.
   */
  minAppearance: number;
}

/**
 * Defaults, for detection at about 5–25 fps:
 * - minIou 0.3: a face moves little between detections once the prediction carries its velocity.
 * - maxMissed 5 (0.5 s at 10 fps): rides out detector drop-outs on blur or a turned head.
 * - maxAgeMs 2000: at low detection rates (many cameras) five misses would span seconds, over which a
 *   constant-velocity prediction is no longer worth matching against.
 * - evidenceToDecide 3: an undecided track is embedded every frame, so its name shows after 3 detections
 *   (0.3 s at 10 fps), from the mean of three faces rather than one.
 * - answersToChange 2: one odd answer never renames a track; a real change shows at the next re-check.
 * - sameFaceMin: SAME_FACE_MIN (identity.ts).
 * - recheckMs 1000: a decided identity costs one embedding per second instead of one per frame.
 * - recheckBelow SAME_LOOK_MIN (faceSignature.ts): a settled face is re-embedded early only when its picture
 *   really changed; the embedding then decides whether it is still the same person.
 * - cooldownMs 10 000: longer than a typical occlusion (someone walking past, a turn away).
 * - minAppearance 0.7: one face between two detections scores ≥ 0.87 even moved, rescaled and re-lit
 *   (faceSignature.ts); 95% of pairs of different people score below it. It splits most cuts before any
 *   embedding; the others (people who look alike in 16×16) are split by their first embedding, which the
 *   changed look asks for in that same frame (see `settledFaces`).
 */
export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = {
  minIou: 0.3,
  maxMissed: 5,
  maxAgeMs: 2000,
  evidenceToDecide: 3,
  answersToChange: 2,
  sameFaceMin: SAME_FACE_MIN,
  recheckMs: 1000,
  recheckBelow: SAME_LOOK_MIN,
  cooldownMs: 10_000,
  minAppearance: 0.7,
};

// ---------------------------------------------------------------------------------------------------------
// Kalman filter. The state is box centre x, y, width, height and their velocities (per second), with
// F = [[I, dt·I], [0, I]], H = [I, 0] and diagonal Q, R and initial P. With those, P stays block-diagonal
// per coordinate, so the 8-state filter is exactly four independent (position, velocity) filters: that is
// how it is stored, five numbers per coordinate, and no 8×8 products or 4×4 inverse are needed.
// Noise scales with the face's height (as in DeepSORT), so it is the same for near and far faces.

const KF_STRIDE = 5; // pos, vel, var(pos), cov(pos, vel), var(vel)
/** Measurement noise σ, × height. */
const MEASURE_STD = 0.05;
/** Process noise σ per √second on position and velocity, × height. */
const POSITION_NOISE = 0.05;
const VELOCITY_NOISE = 0.5;
/** Initial velocity σ, × height per second: a face may move about its own height in a second. */
const INITIAL_VELOCITY_STD = 1;

function initFilter(kf: Float64Array, x1: number, y1: number, x2: number, y2: number): void {
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
function predictFilter(kf: Float64Array, dt: number): void {
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
function correctFilter(kf: Float64Array, x1: number, y1: number, x2: number, y2: number): void {
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

/** The filter's box `dt` seconds ahead, without changing the filter, written at `out[at..at+4]`. */
function projectBox(kf: Float64Array, dt: number, out: Float64Array | number[], at: number): void {
  const cx = kf[0]! + kf[1]! * dt;
  const cy = kf[KF_STRIDE]! + kf[KF_STRIDE + 1]! * dt;
  const w = Math.max(1, kf[2 * KF_STRIDE]! + kf[2 * KF_STRIDE + 1]! * dt);
  const h = Math.max(1, kf[3 * KF_STRIDE]! + kf[3 * KF_STRIDE + 1]! * dt);
  out[at] = cx - w / 2;
  out[at + 1] = cy - h / 2;
  out[at + 2] = cx + w / 2;
  out[at + 3] = cy + h / 2;
}

function iou4(ax1: number, ay1: number, ax2: number, ay2: number, b: TrackerDetection['box']): number {
  const w = Math.min(ax2, b.x2) - Math.max(ax1, b.x1);
  const h = Math.min(ay2, b.y2) - Math.max(ay1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (ax2 - ax1) * (ay2 - ay1) + Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

// ---------------------------------------------------------------------------------------------------------
// Assignment: the Hungarian method (shortest augmenting paths with potentials, O(n²·m)) on a few faces.

/** Cost of a pair below the IoU gate: any complete assignment first maximises the number of allowed pairs. */
const FORBIDDEN = 1e6;

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

// ---------------------------------------------------------------------------------------------------------
// Tracks, identities and visits.

interface Track {
  readonly id: number;
  readonly kf: Float64Array;
  /** Time the filter state refers to. */
  filterAt: number;
  firstBox: Box;
  firstSeenAt: number;
  lastBox: Box;
  landmarks: Point[] | undefined;
  /** The appearance of the last face measured, when detections carry signatures. */
  signature: Float32Array | undefined;
  /** The appearance of the face at its last embedding. */
  embeddedSignature: Float32Array | undefined;
  /** Its appearance changed since its last embedding: embed it at once. */
  changed: boolean;
  /** Another person's face took its place in this frame: it ends with the frame. */
  replaced: boolean;
  lastSeenAt: number;
  /** Detection frames in a row without this face. */
  misses: number;
  readonly evidence: TrackEvidence;
  readonly decision: IdentityDecision;
  lastObservedAt: number;
  /** The decided name; undefined until `evidenceToDecide` embeddings. */
  name: string | undefined;
  /** The matcher's score for the track's mean embedding. */
  score: number;
  /** The trackId of the visit this track is part of (its own, or an earlier track's it continued). */
  visitId: number | undefined;
  best: BestFace | undefined;
}

/** A visit whose track ended or changed name, held back `cooldownMs` before its left event. */
interface EndedVisit {
  visitId: number;
  name: string;
  score: number;
  lastSeenAt: number;
  box: Box;
  best: BestFace;
  /** The track's mean embedding: an Unknown visit is continued only by the same face. */
  mean: Float32Array | undefined;
}

function centreDistanceWithin(a: Box, b: Box, limit: number): boolean {
  const dx = (a[0] + a[2] - b[0] - b[2]) / 2;
  const dy = (a[1] + a[3] - b[1] - b[3]) / 2;
  return dx * dx + dy * dy <= limit * limit;
}

/**
 * One camera's tracker. Per detection frame, call `update` with every detection, in increasing time (pass
 * the frame's capture time as `now` and its `seq`). A detection's `match` is the matcher's answer when the
 * face was embedded in this frame and undefined when it was not: embeddings are used whenever present, and
 * `settledFaces(now)` says where they are not needed: embed every detection except one at a settled face's
 * box that still looks like that face (the worker's `skipEmbeddingNear` with signatures), and pass every
 * embedding. For frames that skipped detection, `predict(now)` moves the boxes along.
 */
export class FaceTracker {
  readonly options: Readonly<TrackerOptions>;
  private readonly tracks: Track[] = [];
  private readonly endedVisits: EndedVisit[] = [];
  /** Per track id: the live track and the held-back visits whose best face it is. */
  private readonly refs = new Map<number, number>();
  private nextId = 1;
  private readonly assignment = new Assignment();
  // Scratch, grown as needed: predicted boxes, costs, and the assignment both ways.
  private predicted = new Float64Array(16);
  private cost = new Float64Array(16);
  private trackToDet = new Int32Array(4);
  private detToTrack = new Int32Array(4);

  constructor(
    private readonly matcher: IdentityMatcher,
    options: Partial<TrackerOptions> = {},
  ) {
    this.options = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    const { evidenceToDecide: k, answersToChange: c } = this.options;
    if (!(k >= 1 && c >= 1)) throw new Error(`evidenceToDecide (${k}) and answersToChange (${c}) must be ≥ 1`);
  }

  /** Live tracks, including those missed by the last detections. */
  get trackCount(): number {
    return this.tracks.length;
  }

  /** Ties `detections` to tracks at time `now` (ms, non-decreasing). See the class comment. */
  update(detections: readonly TrackerDetection[], now: number, seq?: number): TrackerUpdate {
    const out: Outcome = { events: [], released: [] };
    this.endStale(now, out);
    // Only these take part in the association; tracks started below are appended after them.
    const associated = this.tracks.length;
    this.associate(detections, now);
    const d = detections.length;
    const faces: TrackedFace[] = new Array(d);
    const embed: boolean[] = new Array(d);
    const best: boolean[] = new Array(d);
    for (let j = 0; j < d; j++) {
      const det = detections[j]!;
      const matched = this.detToTrack[j]!;
      let t = matched >= 0 ? this.tracks[matched]! : undefined;
      if (t && det.embedding && t.evidence.similarity(det.embedding) < this.options.sameFaceMin) {
        // Another person in this track's place: the track ends with this frame, the face starts its own.
        t.replaced = true;
        t = undefined;
      }
      if (t) this.measure(t, det, now);
      else t = this.startTrack(det, now);
      embed[j] = this.needs(t, now);
      best[j] = this.offerBest(t, det, now, seq);
      if (det.embedding) this.observe(t, det, det.embedding, now, out);
      else this.watch(t, det);
      faces[j] = this.face(t, t.lastBox, t.landmarks, false);
    }
    // Backwards, as ending a track removes it.
    for (let i = associated - 1; i >= 0; i--) {
      const t = this.tracks[i]!;
      if (t.replaced || (this.trackToDet[i]! < 0 && ++t.misses >= this.options.maxMissed)) this.endTrack(i, out);
    }
    this.emitEndedVisits(now, false, out);
    return { faces, embed, best, events: out.events, released: out.released };
  }

  /**
   * Boxes for a frame that skipped detection: each track seen by the last detections, moved to `now` by its
   * velocity. Tracks missed by the last detections are left out rather than drawn where they might be.
   */
  predict(now: number): TrackedFace[] {
    const out: TrackedFace[] = [];
    for (const t of this.tracks) {
      if (t.misses > 0 || now - t.lastSeenAt >= this.options.maxAgeMs) continue;
      const box: Box = [0, 0, 0, 0];
      projectBox(t.kf, (now - t.filterAt) / 1000, box, 0);
      out.push(this.face(t, box, undefined, true));
    }
    return out;
  }

  /**
   * Whether the track's face should be embedded at `now`: undecided, its appearance changed since its last
   * embedding, or decided and not embedded for `recheckMs`. False for a track id that is not live.
   */
  needsEmbedding(trackId: number, now: number): boolean {
    const t = this.tracks.find((x) => x.id === trackId);
    return t !== undefined && this.needs(t, now);
  }

  /**
   * Where the faces of tracks that need no embedding at `now` are expected (their predicted boxes), and how
   * each looked at its last embedding: the embedder can skip a detection there that still looks the same, so
   * a settled face costs one embedding per re-check, not per frame, while a different face in its place is
   * embedded in the very frame it appears.
   */
  settledFaces(now: number): SettledFace[] {
    const out: SettledFace[] = [];
    for (const f of this.predict(now)) {
      const t = this.tracks.find((x) => x.id === f.trackId)!;
      if (this.needs(t, now)) continue;
      out.push(t.embeddedSignature ? { box: f.box, signature: t.embeddedSignature } : { box: f.box });
    }
    return out;
  }

  /** Ends every track and every held-back visit now (the camera stopped): their left events. */
  flush(now: number): Outcome {
    const out: Outcome = { events: [], released: [] };
    for (let i = this.tracks.length - 1; i >= 0; i--) this.endTrack(i, out);
    this.emitEndedVisits(now, true, out);
    return out;
  }

  // --- association -----------------------------------------------------------------------------------

  /** Ends tracks not seen for maxAgeMs: too old for their prediction to be matched. */
  private endStale(now: number, out: Outcome): void {
    for (let i = this.tracks.length - 1; i >= 0; i--) {
      if (now - this.tracks[i]!.lastSeenAt >= this.options.maxAgeMs) this.endTrack(i, out);
    }
  }

  /** Fills trackToDet / detToTrack (−1: unmatched) from IoU of predicted boxes with detections. */
  private associate(detections: readonly TrackerDetection[], now: number): void {
    const n = this.tracks.length;
    const m = detections.length;
    this.reserve(n, m);
    const { predicted, cost, trackToDet, detToTrack } = this;
    detToTrack.fill(-1, 0, m);
    for (let i = 0; i < n; i++) {
      const t = this.tracks[i]!;
      projectBox(t.kf, (now - t.filterAt) / 1000, predicted, 4 * i);
    }
    for (let i = 0; i < n; i++) {
      const o = 4 * i;
      for (let j = 0; j < m; j++) {
        const overlap = iou4(
          predicted[o]!,
          predicted[o + 1]!,
          predicted[o + 2]!,
          predicted[o + 3]!,
          detections[j]!.box,
        );
        cost[i * m + j] =
          overlap >= this.options.minIou && this.sameLook(this.tracks[i]!, detections[j]!) ? 1 - overlap : FORBIDDEN;
      }
    }
    this.assignment.solve(cost, n, m, trackToDet);
    for (let i = 0; i < n; i++) {
      const j = trackToDet[i]!;
      if (j < 0) continue;
      if (cost[i * m + j]! >= FORBIDDEN) trackToDet[i] = -1;
      else detToTrack[j] = i;
    }
  }

  /**
   * False only when both carry signatures and they say the detection is another face. The signature is a weak
   * identity cue (2 of the 21 pairs of BBT photo 4 score ≥ 0.7), so this only splits the plain cases at once;
   * the embeddings catch the rest (`update`).
   */
  private sameLook(t: Track, det: TrackerDetection): boolean {
    if (!t.signature || !det.signature) return true;
    return signatureSimilarity(t.signature, det.signature) >= this.options.minAppearance;
  }

  private reserve(n: number, m: number): void {
    if (this.predicted.length < 4 * n) this.predicted = new Float64Array(8 * n);
    if (this.cost.length < n * m) this.cost = new Float64Array(2 * n * m);
    if (this.trackToDet.length < n) this.trackToDet = new Int32Array(2 * n);
    if (this.detToTrack.length < m) this.detToTrack = new Int32Array(2 * m);
  }

  private measure(t: Track, det: TrackerDetection, now: number): void {
    const { x1, y1, x2, y2 } = det.box;
    predictFilter(t.kf, (now - t.filterAt) / 1000);
    correctFilter(t.kf, x1, y1, x2, y2);
    t.filterAt = now;
    t.lastBox = [x1, y1, x2, y2];
    t.landmarks = det.landmarks;
    if (det.signature) t.signature = det.signature;
    t.lastSeenAt = now;
    t.misses = 0;
  }

  private startTrack(det: TrackerDetection, now: number): Track {
    const { x1, y1, x2, y2 } = det.box;
    const t: Track = {
      id: this.nextId++,
      kf: new Float64Array(4 * KF_STRIDE),
      filterAt: now,
      firstBox: [x1, y1, x2, y2],
      firstSeenAt: now,
      lastBox: [x1, y1, x2, y2],
      landmarks: det.landmarks,
      signature: det.signature,
      embeddedSignature: undefined,
      changed: false,
      replaced: false,
      lastSeenAt: now,
      misses: 0,
      evidence: new TrackEvidence(),
      decision: new IdentityDecision(this.options.evidenceToDecide, this.options.answersToChange),
      lastObservedAt: Number.NEGATIVE_INFINITY,
      name: undefined,
      score: 0,
      visitId: undefined,
      best: undefined,
    };
    initFilter(t.kf, x1, y1, x2, y2);
    this.tracks.push(t);
    this.refs.set(t.id, 1);
    return t;
  }

  private endTrack(i: number, out: Outcome): void {
    const t = this.tracks[i]!;
    this.tracks.splice(i, 1);
    if (t.visitId !== undefined && t.name !== undefined) this.holdVisit(t, t.name, t.lastSeenAt);
    this.release(t.id, out);
  }

  // --- identity --------------------------------------------------------------------------------------

  private needs(t: Track, now: number): boolean {
    if (t.name === undefined || t.changed) return true;
    return now - t.lastObservedAt >= this.options.recheckMs;
  }

  /** Adds a face's embedding to the track's evidence and re-decides its name from the mean. */
  private observe(t: Track, det: TrackerDetection, embedding: Float32Array, now: number, out: Outcome): void {
    t.evidence.add(embedding, faceWeight(det));
    t.lastObservedAt = now;
    t.embeddedSignature = det.signature;
    t.changed = false;
    const answer = this.matcher.match(t.evidence.mean()!);
    if (answer && t.decision.update(answer, t.evidence.count)) this.rename(t, t.decision.name!, now, out);
    t.score = t.decision.score;
  }

  /** A face not embedded in this frame: if it no longer looks like at its last embedding, embed it next. */
  private watch(t: Track, det: TrackerDetection): void {
    const ref = t.embeddedSignature;
    if (ref && det.signature && signatureSimilarity(ref, det.signature) < this.options.recheckBelow) t.changed = true;
  }

  /** Gives the track a new name: its current visit (if any) is held back, and a visit starts or resumes. */
  private rename(t: Track, name: string, now: number, out: Outcome): void {
    if (t.visitId !== undefined && t.name !== undefined) this.holdVisit(t, t.name, now);
    t.name = name;
    t.score = t.decision.score;
    const lost = this.lostTrackOf(t, name);
    if (lost) {
      // The same person's track, missed since this face's track began (split off by a changed look): this
      // one takes its visit over; the lost track ends without a visit of its own.
      t.visitId = lost.visitId;
      lost.visitId = undefined;
      return;
    }
    const resumed = this.resumableVisit(t, name, now);
    if (resumed >= 0) {
      const visit = this.endedVisits[resumed]!;
      this.endedVisits.splice(resumed, 1);
      t.visitId = visit.visitId;
      // Its left event will never be sent, so its best face is no longer needed (unless it is this track's).
      this.release(visit.best.trackId, out);
      return;
    }
    t.visitId = t.id;
    out.events.push({ type: 'person_appeared', trackId: t.id, name, score: t.score, at: now, best: t.best! });
  }

  /** A live track with a visit of `name` that has not been seen since `t` started; undefined if none. */
  private lostTrackOf(t: Track, name: string): Track | undefined {
    for (const u of this.tracks) {
      if (u === t || u.name !== name || u.visitId === undefined || u.misses === 0 || u.lastSeenAt >= t.firstSeenAt)
        continue;
      if (name !== UNKNOWN || (this.near(u.lastBox, t) && this.sameFace(u.evidence.mean(), t))) return u;
    }
    return undefined;
  }

  /** The most recent held-back visit of `name` the track may continue; −1 if none. */
  private resumableVisit(t: Track, name: string, now: number): number {
    for (let i = this.endedVisits.length - 1; i >= 0; i--) {
      const v = this.endedVisits[i]!;
      if (v.name !== name || now - v.lastSeenAt >= this.options.cooldownMs) continue;
      if (name !== UNKNOWN || (this.near(v.box, t) && this.sameFace(v.mean, t))) return i;
    }
    return -1;
  }

  /** An Unknown track continues an Unknown visit only with the same face (when both were embedded)… */
  private sameFace(mean: Float32Array | undefined, t: Track): boolean {
    return mean === undefined || t.evidence.similarity(mean) >= this.options.sameFaceMin;
  }

  /** …and only within about two face widths of where it was seen. */
  private near(box: Box, t: Track): boolean {
    const limit = box[2] - box[0] + t.lastBox[2] - t.lastBox[0];
    return centreDistanceWithin(box, t.firstBox, limit) || centreDistanceWithin(box, t.lastBox, limit);
  }

  private holdVisit(t: Track, name: string, lastSeenAt: number): void {
    const best = t.best!;
    const mean = t.evidence.mean();
    this.endedVisits.push({ visitId: t.visitId!, name, score: t.score, lastSeenAt, box: t.lastBox, best, mean });
    this.refs.set(best.trackId, (this.refs.get(best.trackId) ?? 0) + 1);
    t.visitId = undefined;
  }

  /** Sends the left events of held-back visits whose cooldown has passed (all of them when `all`). */
  private emitEndedVisits(now: number, all: boolean, out: Outcome): void {
    let kept = 0;
    for (const v of this.endedVisits) {
      if (all || now - v.lastSeenAt >= this.options.cooldownMs) {
        const { visitId: trackId, name, score, lastSeenAt: at, best } = v;
        out.events.push({ type: 'person_left', trackId, name, score, at, best });
        this.release(v.best.trackId, out);
      } else {
        this.endedVisits[kept++] = v;
      }
    }
    this.endedVisits.length = kept;
  }

  // --- best face -------------------------------------------------------------------------------------

  private offerBest(t: Track, det: TrackerDetection, now: number, seq: number | undefined): boolean {
    const { x1, y1, x2, y2 } = det.box;
    const quality = det.score * Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
    if (t.best && t.best.quality >= quality) return false;
    t.best = { trackId: t.id, seq, box: [x1, y1, x2, y2], quality, at: now };
    return true;
  }

  /** Drops one reference to a track id's best face; reports the id once nothing refers to it. */
  private release(trackId: number, out: Outcome): void {
    const left = (this.refs.get(trackId) ?? 1) - 1;
    if (left > 0) {
      this.refs.set(trackId, left);
      return;
    }
    this.refs.delete(trackId);
    out.released.push(trackId);
  }

  private face(t: Track, box: Box, landmarks: Point[] | undefined, predicted: boolean): TrackedFace {
    const face: TrackedFace = { trackId: t.id, box, name: t.name ?? UNKNOWN, score: t.name ? t.score : 0, predicted };
    if (landmarks) face.landmarks = landmarks;
    return face;
  }
}
