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
import { UNKNOWN } from '../../facebank/matcher.ts';
import { area, type Box, iou } from '../../models/box.ts';
import { signatureSimilarity } from '../../models/faceSignature.ts';
import type { Point } from '../../models/mtcnn/detector.ts';
import type { TrackedFace } from '../types.ts';
import { Assignment, FORBIDDEN } from './assignment.ts';
import { faceWeight, type IdentityMatcher } from './identity.ts';
import { correctFilter, predictFilter, projectBox } from './kalman.ts';
import { newTrack, type Track } from './track.ts';
import { DEFAULT_TRACKER_OPTIONS, type TrackerOptions } from './trackerOptions.ts';
import type { Outcome, SettledFace, TrackerDetection, TrackerUpdate } from './trackerTypes.ts';
import { centreDistanceWithin, type EndedVisit } from './visits.ts';

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
  // Scratch, grown as needed: costs, and the assignment both ways.
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

  /** Where each live track was last detected, missed ones included (the motion gate keeps looking there). */
  lastBoxes(): Box[] {
    return this.tracks.map((t) => t.lastBox);
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
      out.push(this.face(t, projectBox(t.kf, (now - t.filterAt) / 1000), undefined, true));
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
    const { cost, trackToDet, detToTrack } = this;
    detToTrack.fill(-1, 0, m);
    for (let i = 0; i < n; i++) {
      const t = this.tracks[i]!;
      const predicted = projectBox(t.kf, (now - t.filterAt) / 1000);
      for (let j = 0; j < m; j++) {
        const overlap = iou(predicted, detections[j]!.box);
        cost[i * m + j] =
          overlap >= this.options.minIou ? this.pairCost(this.tracks[i]!, detections[j]!, overlap) : FORBIDDEN;
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
   * The cost of continuing track `t` with a detection that overlaps its predicted box by `overlap` (≥ minIou).
   * The 16×16 signature is a weak identity cue (2 of the 21 pairs of BBT photo 4 score ≥ minAppearance), so a
   * look that says "another face" forbids the pair only when the frame has no embedding to say otherwise. It
   * also changes with the face's place against its background: penny swaying 40 px over a blurred scene scored
   * 0.59–0.66 between detections 1 s apart (a loaded machine detecting at 2–4 fps), and her track was split
   * every second. So an embedding still close to the track's evidence overrules the look; the pair then costs
   * more than any pair that also looks alike, which a track split off by a changed look wins. An embedding far
   * from the evidence splits the track in `update`.
   */
  private pairCost(t: Track, det: TrackerDetection, overlap: number): number {
    if (!t.signature || !det.signature) return 1 - overlap;
    if (signatureSimilarity(t.signature, det.signature) >= this.options.minAppearance) return 1 - overlap;
    const sameFace = det.embedding !== undefined && t.evidence.count > 0;
    return sameFace && t.evidence.similarity(det.embedding!) >= this.options.sameFaceMin ? 2 - overlap : FORBIDDEN;
  }

  private reserve(n: number, m: number): void {
    if (this.cost.length < n * m) this.cost = new Float64Array(2 * n * m);
    if (this.trackToDet.length < n) this.trackToDet = new Int32Array(2 * n);
    if (this.detToTrack.length < m) this.detToTrack = new Int32Array(2 * m);
  }

  private measure(t: Track, det: TrackerDetection, now: number): void {
    predictFilter(t.kf, (now - t.filterAt) / 1000);
    correctFilter(t.kf, det.box);
    t.filterAt = now;
    t.lastBox = det.box;
    t.landmarks = det.landmarks;
    if (det.signature) t.signature = det.signature;
    t.lastSeenAt = now;
    t.misses = 0;
  }

  private startTrack(det: TrackerDetection, now: number): Track {
    const t = newTrack(this.nextId++, det, now, this.options);
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
    const limit = box.x2 - box.x1 + t.lastBox.x2 - t.lastBox.x1;
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
    const quality = det.score * area(det.box);
    if (t.best && t.best.quality >= quality) return false;
    t.best = { trackId: t.id, seq, box: det.box, quality, at: now };
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
