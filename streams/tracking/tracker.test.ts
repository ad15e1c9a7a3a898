import { describe, expect, test } from 'vitest';
import { amy, brief, centre, det, raj, stranger, tracker } from './testing.ts';
import type { TrackerEvent } from './trackerTypes.ts';

describe('association', () => {
  test('a face at constant velocity keeps its id across frames and through two skipped detections', () => {
    const tr = tracker();
    // 300 px/s right, 100 px/s down; an 80 px face; detections every 100 ms.
    const at = (t: number) => det(100 + 0.3 * t, 200 + 0.1 * t);
    const ids = new Set<number>();
    for (let t = 0; t <= 1000; t += 100) ids.add(tr.update([at(t)], t).faces[0]!.trackId);
    expect([...ids]).toEqual([1]);
    // Two frames skip detection: the predicted boxes follow the face.
    for (const t of [1100, 1200]) {
      const [p] = tr.predict(t);
      expect(p!.predicted).toBe(true);
      expect(p!.trackId).toBe(1);
      const [px, py] = centre(p!.box);
      expect(Math.abs(px - (100 + 0.3 * t))).toBeLessThan(3);
      expect(Math.abs(py - (200 + 0.1 * t))).toBeLessThan(3);
      expect(p!.box.x2 - p!.box.x1).toBeCloseTo(80, 0);
    }
    // 90 px since the last detection, more than the face's width: only the prediction can match it.
    const r = tr.update([at(1300)], 1300);
    expect(r.faces[0]!.trackId).toBe(1);
    expect(r.faces[0]!.predicted).toBe(false);
    expect(r.faces[0]!.box).toEqual({ x1: 100 + 390 - 40, y1: 200 + 130 - 40, x2: 100 + 390 + 40, y2: 200 + 130 + 40 });
  });

  test('a face missed by two detections keeps its id', () => {
    const tr = tracker();
    const at = (t: number) => det(100 + 0.3 * t, 200);
    for (let t = 0; t <= 1000; t += 100) tr.update([at(t)], t);
    expect(tr.update([], 1100).faces).toEqual([]);
    // A track missed by the last detections is not drawn on skipped frames.
    expect(tr.predict(1150)).toEqual([]);
    tr.update([], 1200);
    expect(tr.update([at(1300)], 1300).faces[0]!.trackId).toBe(1);
    expect(tr.trackCount).toBe(1);
  });

  test('predicted boxes for skipped frames carry the track and its decided name', () => {
    const tr = tracker();
    const landmarks: [number, number][] = [[90, 90]];
    for (let t = 0; t < 300; t += 100) tr.update([{ ...det(100 + 0.2 * t, 100, 80, amy(0.8)), landmarks }], t);
    const r = tr.update([{ ...det(160, 100), landmarks }, det(700, 100)], 300);
    expect(r.faces[0]).toEqual({
      trackId: 1,
      box: { x1: 120, y1: 60, x2: 200, y2: 140 },
      name: 'amy',
      score: expect.closeTo(0.8),
      landmarks,
      predicted: false,
    });
    expect(r.faces[1]).toEqual({
      trackId: 2,
      box: { x1: 660, y1: 60, x2: 740, y2: 140 },
      name: 'Unknown',
      score: 0,
      predicted: false,
    });
    const p = tr.predict(350);
    expect(p.map((f) => [f.trackId, f.name, f.predicted, f.landmarks])).toEqual([
      [1, 'amy', true, undefined],
      [2, 'Unknown', true, undefined],
    ]);
    // Track 1 moves 0.2 px/ms (170 at 350 ms); after four detections the filter has most of that velocity.
    expect(centre(p[0]!.box)[0]).toBeGreaterThan(165);
    expect(centre(p[0]!.box)[0]).toBeLessThan(172);
    expect(centre(p[1]!.box)).toEqual([700, 100]);
    // Nothing to draw long after the last detection.
    expect(tr.predict(2300)).toEqual([]);
  });

  test('two faces crossing paths keep their ids', () => {
    const tr = tracker();
    // A moves right, B left, 10 px apart vertically, crossing between the frames at 800 and 900 ms: at 900
    // B is where A was at 800 (IoU 0.78 with A's last box), so only the predicted boxes keep them apart.
    const a = (t: number) => det(100 + 0.25 * t, 200);
    const b = (t: number) => det(525 - 0.25 * t, 210);
    let idA = 0;
    let idB = 0;
    for (let t = 0; t <= 1600; t += 100) {
      // Detection order carries no identity: alternate it.
      const dets = t % 200 === 0 ? [a(t), b(t)] : [b(t), a(t)];
      const faces = tr.update(dets, t).faces;
      const [fa, fb] = t % 200 === 0 ? [faces[0]!, faces[1]!] : [faces[1]!, faces[0]!];
      if (t === 0) [idA, idB] = [fa.trackId, fb.trackId];
      expect([t, fa.trackId, fb.trackId]).toEqual([t, idA, idB]);
    }
    expect(tr.trackCount).toBe(2);
  });

  test('a new face starts a track with the next id; a face gone for maxMissed detections ends it', () => {
    const tr = tracker({ cooldownMs: 0 });
    for (let t = 0; t < 500; t += 100) tr.update([det(100, 100, 80, amy())], t);
    expect(tr.update([det(100, 100, 80, amy()), det(400, 100)], 500).faces.map((f) => f.trackId)).toEqual([1, 2]);
    const ended: string[] = [];
    const released: number[] = [];
    for (let t = 600; t <= 1000; t += 100) {
      const r = tr.update([det(400, 100)], t);
      ended.push(...brief(r.events));
      released.push(...r.released);
      expect(tr.trackCount).toBe(t < 1000 ? 2 : 1);
    }
    // The left event carries the time amy was last seen.
    expect(ended).toEqual(['-amy#1@500']);
    expect(released).toEqual([1]);
  });

  test('a track unseen for maxAgeMs ends even when few detections ran', () => {
    const tr = tracker({ maxAgeMs: 2000, cooldownMs: 0 });
    tr.update([det(100, 100, 80, amy())], 0);
    tr.update([], 1000);
    expect(tr.trackCount).toBe(1);
    // Same place, but 2 s later: a new track.
    expect(tr.update([det(100, 100)], 2000).faces[0]!.trackId).toBe(2);
    expect(tr.trackCount).toBe(1);
  });

  test('a different face in the same place starts its own track, with its own name and best face', () => {
    const tr = tracker({ cooldownMs: 0 });
    /** A signature: unit vectors, so similarities are exact (cos of the angle between them). */
    const look = (angle: number) => Float32Array.of(Math.cos(angle), Math.sin(angle));
    const seen = (t: number, angle: number, embedding?: Float32Array) =>
      tr.update([{ ...det(100, 100, 80, embedding), signature: look(angle) }], t);
    for (let t = 0; t < 300; t += 100) seen(t, 0, amy());
    // The same face drifting (similarity cos 0.3 = 0.96 per frame) stays on its track.
    expect(seen(300, 0.3).faces[0]!.trackId).toBe(1);
    // A cut to another face in the same box (cos 1.3 = 0.27 against the last one): a new track, Unknown until
    // its own embeddings decide it; the first track misses, ends, and its visit leaves.
    const cut = seen(400, 1.6, raj());
    expect(cut.faces.map((f) => [f.trackId, f.name])).toEqual([[2, 'Unknown']]);
    expect(cut.best).toEqual([true]);
    const events: string[] = [];
    for (let t = 500; t <= 900; t += 100) events.push(...brief(seen(t, 1.6, raj()).events));
    expect(events).toEqual(['+raj#2@600', '-amy#1@300']);
    expect(tr.trackCount).toBe(1);
  });
});

describe('identity', () => {
  test('a name is decided from the mean of the first 3 embeddings; until then the track is Unknown', () => {
    const tr = tracker();
    const seen: string[] = [];
    const events: string[] = [];
    // Single frames: 0.45 (under the threshold), 0.6, 0.75; their mean scores 0.62.
    [amy(0.45), amy(0.6), amy(0.75)].forEach((e, i) => {
      const r = tr.update([det(100, 100, 80, e)], i * 100);
      seen.push(r.faces[0]!.name);
      events.push(...brief(r.events));
    });
    expect(seen).toEqual(['Unknown', 'Unknown', 'amy']);
    expect(events).toEqual(['+amy#1@200']);
    // Score: the matcher's score for the track's mean embedding.
    const score = tr.update([det(100, 100)], 300).faces[0]!.score;
    expect(score).toBeGreaterThan(0.6);
    expect(score).toBeLessThan(0.75);
  });

  test('a stranger whose single frames sometimes pass the threshold is never named', () => {
    const tr = tracker();
    const names = new Set<string>();
    const events: string[] = [];
    // Every other frame alone would be named amy (0.55 ≥ 0.5); the mean stays near 0.43.
    for (let i = 0; i < 30; i++) {
      const r = tr.update([det(100, 100, 80, stranger(i % 2 === 0 ? 0.55 : 0.3))], i * 100);
      for (const f of r.faces) names.add(f.name);
      events.push(...brief(r.events));
    }
    expect([...names]).toEqual(['Unknown']);
    expect(events).toEqual(['+Unknown#1@200']);
  });

  test('one odd answer does not rename a decided track; a lasting change does', () => {
    const tr = tracker({ cooldownMs: 1000 });
    let t = 0;
    const step = (e?: Float32Array) => {
      const r = tr.update([det(100, 100, 80, e)], t);
      t += 100;
      return `${r.faces[0]!.name}${brief(r.events).join('')}`;
    };
    expect([amy(0.55), amy(0.55), amy(0.55)].map(step)).toEqual(['Unknown', 'Unknown', 'amy+amy#1@200']);
    // A blurred frame of the same face (same face, lower score): its mean dips under 0.5 once…
    expect([amy(0.3), amy(0.55)].map(step)).toEqual(['amy', 'amy']);
    // …and stays under it: the second answer in a row renames the track (same face, so the same track).
    expect([amy(0.2), amy(0.2), amy(0.2)].map(step)).toEqual(['amy', 'Unknown+Unknown#1@600', 'Unknown']);
  });

  test('a track is one person: an embedding far from its evidence ends it, even when it looks alike', () => {
    const tr = tracker({ cooldownMs: 0 });
    // The same signature throughout: appearance alone would keep one track (as the 16×16 signature does for
    // some pairs of people), so only the embedding can tell.
    const look = Float32Array.of(1, 0);
    const seen = (t: number, e?: Float32Array) => tr.update([{ ...det(100, 100, 80, e), signature: look }], t);
    for (let t = 0; t < 300; t += 100) seen(t, amy());
    expect(seen(300).faces[0]!.name).toBe('amy');
    // The stranger's embedding scores 0.21 with the track's mean: in that very frame, a new track.
    const cut = seen(400, stranger());
    expect(cut.faces.map((f) => [f.trackId, f.name])).toEqual([[2, 'Unknown']]);
    expect(cut.best).toEqual([true]);
    const events = brief(cut.events);
    for (let t = 500; t <= 700; t += 100) events.push(...brief(seen(t, stranger()).events));
    // amy's visit ended when she was last seen (300); the stranger is announced as Unknown, with its own face.
    expect(events).toEqual(['-amy#1@300', '+Unknown#2@600']);
    expect(tr.trackCount).toBe(1);
  });

  test('a face embedded in the frame keeps its track when its look changed but its embedding did not', () => {
    const tr = tracker({ cooldownMs: 0 });
    const look = (angle: number) => Float32Array.of(Math.cos(angle), Math.sin(angle));
    const seen = (t: number, angle: number) => tr.update([{ ...det(100, 100, 80, amy()), signature: look(angle) }], t);
    for (let t = 0; t < 300; t += 100) seen(t, 0);
    // Detections 1 s apart on a loaded machine, the face moved against its background: the signature scores
    // cos 0.9 = 0.62, under minAppearance, but the embedding in that frame is amy's.
    const later = seen(1300, 0.9);
    expect(later.faces.map((f) => [f.trackId, f.name])).toEqual([[1, 'amy']]);
    expect(later.events).toEqual([]);
    expect(tr.trackCount).toBe(1);
  });

  test('the same person split off by a changed look continues their visit: no second appeared event', () => {
    const tr = tracker({ cooldownMs: 0 });
    const look = (angle: number) => Float32Array.of(Math.cos(angle), Math.sin(angle));
    const events: TrackerEvent[] = [];
    const seen = (t: number, angle: number, e?: Float32Array) => {
      const r = tr.update(e || angle >= 0 ? [{ ...det(100, 100, 80, e), signature: look(angle) }] : [], t);
      events.push(...r.events);
      return r;
    };
    for (let t = 0; t < 300; t += 100) seen(t, 0, amy());
    // A turn of the head the signature cannot follow (cos 1.2 = 0.36), in a frame without its embedding: a new
    // track, which the next embeddings find to be amy.
    expect(seen(300, 1.2).faces[0]!.trackId).toBe(2);
    for (let t = 400; t <= 900; t += 100) seen(t, 1.2, amy());
    expect(tr.trackCount).toBe(1);
    // Gone: the visit ends once, with the face of the track that saw amy last.
    for (let t = 1000; t <= 1500; t += 100) seen(t, -1);
    expect(brief(events)).toEqual(['+amy#1@200', '-amy#1@900']);
    expect(events[1]!.best.trackId).toBe(2);
  });

  test('re-checks: undecided tracks every frame, settled ones every recheckMs, at once when their look changes', () => {
    const tr = tracker({ recheckMs: 1000 });
    /** A signature at `angle` from the first one (similarity cos(angle)). */
    const look = (angle: number) => Float32Array.of(Math.cos(angle), Math.sin(angle));
    // A pipeline that embeds every detection except a settled face that still looks like it did.
    let pattern = '';
    const frame = (t: number, angle = 0) => {
      const settled = tr.settledFaces(t);
      const skipped = settled.some(
        (s) =>
          s.signature &&
          s.signature[0]! * Math.cos(angle) + s.signature[1]! * Math.sin(angle) >= tr.options.recheckBelow,
      );
      pattern += skipped ? '.' : 'E';
      return tr.update([{ ...det(100, 100, 80, skipped ? undefined : amy()), signature: look(angle) }], t);
    };
    for (let t = 0; t < 2500; t += 100) frame(t);
    // A new face is embedded at once: 3 embeddings at 0–200 decide it, then one a second.
    expect(pattern).toBe('EEE.........E.........E..');
    expect(tr.needsEmbedding(1, 2400)).toBe(false);
    expect(tr.needsEmbedding(1, 3300)).toBe(true);
    expect(tr.needsEmbedding(99, 3300)).toBe(false);
    // Its look changes (a turn of the head: similarity 0.8): embedded in that frame, then settled again.
    pattern = '';
    for (let t = 2500; t < 3000; t += 100) frame(t, t < 2700 ? 0 : 0.65);
    expect(pattern).toBe('..E..');
    expect(tr.update([det(100, 100)], 3000).faces[0]!.trackId).toBe(1);
  });

  test('update reports which detections want an embedding', () => {
    const tr = tracker();
    for (let t = 0; t < 600; t += 100) {
      // Only the first face is embedded: it is decided after three, the second one never is.
      const r = tr.update([det(100, 100, 80, t < 300 ? amy() : undefined), det(400, 100)], t);
      expect(r.embed).toEqual(t < 300 ? [true, true] : [false, true]);
    }
  });
});
