import { describe, expect, test } from 'vitest';
import { Assignment, FaceTracker, type Observation, type TrackerDetection, type TrackerEvent } from './tracker.ts';
import type { Box } from './types.ts';

/** A square face of side `size` centred at (cx, cy). */
function det(cx: number, cy: number, size = 80, match?: Observation): TrackerDetection {
  const h = size / 2;
  return { box: { x1: cx - h, y1: cy - h, x2: cx + h, y2: cy + h }, score: 0.99, match };
}

const amy = (score = 0.7): Observation => ({ name: 'amy', score });
const raj = (score = 0.7): Observation => ({ name: 'raj', score });
const unknown = (score = 0.2): Observation => ({ name: 'Unknown', score });

function centre(b: Box): [number, number] {
  return [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2];
}

function brief(events: TrackerEvent[]): string[] {
  return events.map((e) => `${e.type === 'person_appeared' ? '+' : '-'}${e.name}#${e.trackId}@${e.at}`);
}

describe('association', () => {
  test('a face at constant velocity keeps its id across frames and through two skipped detections', () => {
    const tr = new FaceTracker();
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
      expect(p!.box[2] - p!.box[0]).toBeCloseTo(80, 0);
    }
    // 90 px since the last detection, more than the face's width: only the prediction can match it.
    const r = tr.update([at(1300)], 1300);
    expect(r.faces[0]!.trackId).toBe(1);
    expect(r.faces[0]!.predicted).toBe(false);
    expect(r.faces[0]!.box).toEqual([100 + 390 - 40, 200 + 130 - 40, 100 + 390 + 40, 200 + 130 + 40]);
  });

  test('a face missed by two detections keeps its id', () => {
    const tr = new FaceTracker();
    const at = (t: number) => det(100 + 0.3 * t, 200);
    for (let t = 0; t <= 1000; t += 100) tr.update([at(t)], t);
    expect(tr.update([], 1100).faces).toEqual([]);
    // A track missed by the last detections is not drawn on skipped frames.
    expect(tr.predict(1150)).toEqual([]);
    tr.update([], 1200);
    expect(tr.update([at(1300)], 1300).faces[0]!.trackId).toBe(1);
    expect(tr.trackCount).toBe(1);
  });

  test('predicted boxes for skipped frames carry the track and its voted name', () => {
    const tr = new FaceTracker();
    const landmarks: [number, number][] = [[90, 90]];
    for (let t = 0; t < 300; t += 100) tr.update([{ ...det(100 + 0.2 * t, 100, 80, amy(0.8)), landmarks }], t);
    const r = tr.update([{ ...det(160, 100), landmarks }, det(700, 100)], 300);
    expect(r.faces[0]).toEqual({
      trackId: 1,
      box: [120, 60, 200, 140],
      name: 'amy',
      score: expect.closeTo(0.8),
      landmarks,
      predicted: false,
    });
    expect(r.faces[1]).toEqual({ trackId: 2, box: [660, 60, 740, 140], name: 'Unknown', score: 0, predicted: false });
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
    const tr = new FaceTracker();
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
    const tr = new FaceTracker({ cooldownMs: 0 });
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
    const tr = new FaceTracker({ maxAgeMs: 2000, cooldownMs: 0 });
    tr.update([det(100, 100, 80, amy())], 0);
    tr.update([], 1000);
    expect(tr.trackCount).toBe(1);
    // Same place, but 2 s later: a new track.
    expect(tr.update([det(100, 100)], 2000).faces[0]!.trackId).toBe(2);
    expect(tr.trackCount).toBe(1);
  });

  test('a different face in the same place starts its own track, with its own name and best face', () => {
    const tr = new FaceTracker({ cooldownMs: 0 });
    /** A signature: unit vectors, so similarities are exact (cos of the angle between them). */
    const look = (angle: number) => Float32Array.of(Math.cos(angle), Math.sin(angle));
    const seen = (t: number, angle: number, match?: Observation) =>
      tr.update([{ ...det(100, 100, 80, match), signature: look(angle) }], t);
    for (let t = 0; t < 300; t += 100) seen(t, 0, amy());
    // The same face drifting (similarity cos 0.3 = 0.96 per frame) stays on its track.
    expect(seen(300, 0.3).faces[0]!.trackId).toBe(1);
    // A cut to another face in the same box (cos 1.3 = 0.27 against the last one): a new track, Unknown until
    // its own votes decide it; the first track misses, ends, and its visit leaves.
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
  test('a name is decided by 3 of the last 5 observations; until then the track is Unknown', () => {
    const tr = new FaceTracker();
    const seen: string[] = [];
    const events: string[] = [];
    const votes = [amy(0.6), unknown(), amy(0.7), raj(0.5), amy(0.8)];
    votes.forEach((m, i) => {
      const r = tr.update([det(100, 100, 80, m)], i * 100);
      seen.push(r.faces[0]!.name);
      events.push(...brief(r.events));
    });
    expect(seen).toEqual(['Unknown', 'Unknown', 'Unknown', 'Unknown', 'amy']);
    expect(events).toEqual(['+amy#1@400']);
    // Score: the mean similarity of the votes for the name.
    expect(tr.update([det(100, 100)], 500).faces[0]!.score).toBeCloseTo(0.7, 10);
  });

  test('an odd wrong match or a run of Unknown does not flip a decided name', () => {
    const tr = new FaceTracker();
    let t = 0;
    const step = (m?: Observation) => {
      t += 100;
      const r = tr.update([det(100, 100, 80, m)], t);
      return `${r.faces[0]!.name}${brief(r.events).join('')}`;
    };
    expect([amy(), amy(), amy()].map(step)).toEqual(['Unknown', 'Unknown', 'amy+amy#1@300']);
    // raj has at most two of the last five votes throughout.
    expect([raj(0.9), amy(), amy(), raj(0.9), amy()].map(step)).toEqual(['amy', 'amy', 'amy', 'amy', 'amy']);
    // Four Unknowns out of five: still amy.
    expect([unknown(), unknown(), unknown(), unknown()].map(step)).toEqual(['amy', 'amy', 'amy', 'amy']);
    // A whole window of Unknown: the face is not amy after all.
    expect(step(unknown())).toBe('Unknown+Unknown#1@1300');
  });

  test('an unknown person stays Unknown through an odd false match', () => {
    const tr = new FaceTracker();
    const names: string[] = [];
    const events: string[] = [];
    [unknown(), unknown(), unknown(), amy(0.45), unknown(), amy(0.45), unknown()].forEach((m, i) => {
      const r = tr.update([det(100, 100, 80, m)], i * 100);
      names.push(r.faces[0]!.name);
      events.push(...brief(r.events));
    });
    expect(names).toEqual(['Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown', 'Unknown']);
    expect(events).toEqual(['+Unknown#1@200']);
    expect(tr.update([det(100, 100)], 700).faces[0]!.score).toBeCloseTo(0.2, 10);
  });

  test('votes weigh their similarity: a confident name resists three weak votes for another', () => {
    const tr = new FaceTracker({ cooldownMs: 1000 });
    const events: string[] = [];
    [amy(0.9), amy(0.9), amy(0.9), raj(0.45), raj(0.45), raj(0.45)].forEach((m, i) => {
      const r = tr.update([det(100, 100, 80, m)], i * 100);
      events.push(...brief(r.events));
      // Window at the end: amy 0.9 ×2 (1.8) against raj 0.45 ×3 (1.35).
      expect(r.faces[0]!.name).toBe(i < 2 ? 'Unknown' : 'amy');
    });
    // A fourth raj vote: 1.8 against amy's 0.9. amy's visit ends (held back for the cooldown), raj's starts.
    let r = tr.update([det(100, 100, 80, raj(0.45))], 600);
    expect(r.faces[0]!.name).toBe('raj');
    events.push(...brief(r.events));
    r = tr.update([det(100, 100)], 1600);
    events.push(...brief(r.events));
    expect(events).toEqual(['+amy#1@200', '+raj#1@600', '-amy#1@600']);
  });

  test('re-checks: new and undecided tracks every frame, decided ones every recheckMs, disputes at once', () => {
    const tr = new FaceTracker({ recheckMs: 1000 });
    // A pipeline that embeds every detection except those where settledBoxes says the face is settled.
    let pattern = '';
    const frame = (t: number, name = 'amy') => {
      const embedded = tr.settledBoxes(t).length === 0;
      pattern += embedded ? 'E' : '.';
      return tr.update([det(100, 100, 80, embedded ? { name, score: 0.7 } : undefined)], t);
    };
    for (let t = 0; t < 2500; t += 100) frame(t);
    // A new face is embedded at once: 3 votes at 0–200 decide it, then one a second.
    expect(pattern).toBe('EEE.........E.........E..');
    expect(tr.needsEmbedding(1, 2400)).toBe(false);
    expect(tr.needsEmbedding(1, 3300)).toBe(true);
    expect(tr.needsEmbedding(99, 3300)).toBe(false);
    // A re-check that says raj is checked again on the next frames until the name is confirmed.
    pattern = '';
    for (let t = 3300; t < 3800; t += 100) frame(t, t === 3300 ? 'raj' : 'amy');
    expect(pattern).toBe('EE...');
    // An Unknown re-check (a turned head) waits for the next scheduled one.
    pattern = '';
    for (let t = 4400; t < 5600; t += 100) frame(t, 'Unknown');
    expect(pattern).toBe('E.........E.');
  });

  test('update reports which detections wanted an embedding; observe adds matches afterwards', () => {
    const tr = new FaceTracker();
    const out: string[] = [];
    for (let t = 0; t < 600; t += 100) {
      const r = tr.update([det(100, 100), det(400, 100)], t);
      expect(r.embed).toEqual(t < 300 ? [true, true] : [false, true]);
      // Only the first face is recognised: embed it when asked and pass the match separately.
      if (r.embed[0]) out.push(...brief(tr.observe(r.faces[0]!.trackId, amy(), t).events));
    }
    expect(out).toEqual(['+amy#1@200']);
    expect(tr.observe(42, amy(), 600)).toEqual({ events: [], released: [] });
  });
});

describe('visits and cooldown', () => {
  /** Face visible at [from, to) every 100 ms with the given match, nothing otherwise. */
  function run(tr: FaceTracker, spans: { from: number; to: number; m: Observation; cx?: number }[], end: number) {
    const events: TrackerEvent[] = [];
    const ids: number[] = [];
    for (let t = 0; t <= end; t += 100) {
      const span = spans.find((s) => t >= s.from && t < s.to);
      const r = tr.update(span ? [det(span.cx ?? 100, 100, 80, span.m)] : [], t);
      events.push(...r.events);
      for (const f of r.faces) if (!ids.includes(f.trackId)) ids.push(f.trackId);
    }
    return { events: brief(events), ids, raw: events };
  }

  test('a brief occlusion within the cooldown continues the visit: one appeared, one left', () => {
    const tr = new FaceTracker({ cooldownMs: 10_000 });
    const r = run(
      tr,
      [
        { from: 0, to: 1000, m: amy() },
        // Gone 3 s: the first track ends, a new one starts and decides amy again.
        { from: 4000, to: 5000, m: amy() },
      ],
      20_000,
    );
    expect(r.ids).toEqual([1, 2]);
    // Paired by the visit's id; left carries the last time amy was seen.
    expect(r.events).toEqual(['+amy#1@200', '-amy#1@4900']);
    // The left event's crop is the face of the track that ended last.
    expect(r.raw[1]!.best.trackId).toBe(2);
  });

  test('a re-appearance after the cooldown is a new visit', () => {
    const tr = new FaceTracker({ cooldownMs: 2000 });
    const r = run(
      tr,
      [
        { from: 0, to: 1000, m: amy() },
        { from: 4000, to: 5000, m: amy() },
      ],
      8000,
    );
    expect(r.events).toEqual(['+amy#1@200', '-amy#1@900', '+amy#2@4200', '-amy#2@4900']);
  });

  test('another person within the cooldown is announced; an Unknown continues only near where it was', () => {
    const tr = new FaceTracker({ cooldownMs: 10_000 });
    const r = run(
      tr,
      [
        { from: 0, to: 1000, m: unknown() },
        { from: 2000, to: 3000, m: raj() },
        // Same place: the same unknown visitor, most likely.
        { from: 4000, to: 5000, m: unknown() },
        // Across the frame: someone else.
        { from: 6000, to: 7000, m: unknown(), cx: 600 },
      ],
      20_000,
    );
    expect(r.events).toEqual([
      '+Unknown#1@200',
      '+raj#2@2200',
      '+Unknown#4@6200',
      // Left events come a cooldown after the person was last seen, which is their `at`.
      '-raj#2@2900',
      '-Unknown#1@4900',
      '-Unknown#4@6900',
    ]);
  });

  test('flush ends every track and held-back visit at once; released ids are each reported once', () => {
    const tr = new FaceTracker({ cooldownMs: 10_000 });
    const r = run(
      tr,
      [
        { from: 0, to: 1000, m: amy() },
        { from: 1000, to: 2000, m: raj(), cx: 600 },
      ],
      2500,
    );
    // amy is back: track 3 decides amy at 2800 and continues visit 1; track 4 never gets a match.
    const released: number[] = [];
    for (let t = 2600; t <= 2800; t += 100) {
      const u = tr.update([det(100, 100, 80, amy()), det(300, 300)], t);
      expect(u.events).toEqual([]);
      released.push(...u.released);
    }
    // Track 1 ended at 1400 but its best face was kept for amy's visit until track 3 continued it.
    expect(released).toEqual([1]);
    const f = tr.flush(2900);
    expect([...r.events, ...brief(f.events)]).toEqual(['+amy#1@200', '+raj#2@1200', '-raj#2@1900', '-amy#1@2800']);
    expect(f.events[1]!.best.trackId).toBe(3);
    expect(f.released.sort()).toEqual([2, 3, 4]);
    expect(tr.trackCount).toBe(0);
    expect(tr.flush(3000)).toEqual({ events: [], released: [] });
  });

  test('the best face is the largest confident one; update flags it', () => {
    const tr = new FaceTracker();
    const flags: boolean[] = [];
    for (const [t, size] of [
      [0, 60],
      [100, 80],
      [200, 70],
      [300, 90],
    ] as const) {
      flags.push(tr.update([det(100, 100, size, amy())], t, t / 100).best[0]!);
    }
    expect(flags).toEqual([true, true, false, true]);
    const { events } = tr.flush(400);
    expect(events[0]!.best).toEqual({
      trackId: 1,
      seq: 3,
      box: [55, 55, 145, 145],
      quality: expect.closeTo(8019),
      at: 300,
    });
  });
});

describe('Assignment', () => {
  function brute(cost: number[][], rows: number, cols: number): number {
    let best = Number.POSITIVE_INFINITY;
    const usedCols = new Set<number>();
    const go = (r: number, sum: number, assigned: number) => {
      if (r === rows) {
        if (assigned === Math.min(rows, cols)) best = Math.min(best, sum);
        return;
      }
      if (rows - r > cols - usedCols.size) go(r + 1, sum, assigned);
      for (let c = 0; c < cols; c++) {
        if (usedCols.has(c)) continue;
        usedCols.add(c);
        go(r + 1, sum + cost[r]![c]!, assigned + 1);
        usedCols.delete(c);
      }
      if (rows - r <= cols - usedCols.size) go(r + 1, sum, assigned);
    };
    go(0, 0, 0);
    return best;
  }

  test('matches brute force on random rectangular matrices', () => {
    const a = new Assignment();
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 200; trial++) {
      const rows = 1 + Math.floor(rand() * 5);
      const cols = 1 + Math.floor(rand() * 5);
      const cost = Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.round(rand() * 100)));
      const out = new Int32Array(rows);
      a.solve(Float64Array.from(cost.flat()), rows, cols, out);
      const cols_ = [...out].filter((c) => c >= 0);
      expect(cols_).toHaveLength(Math.min(rows, cols));
      expect(new Set(cols_).size).toBe(cols_.length);
      const sum = [...out].reduce((s, c, r) => (c >= 0 ? s + cost[r]![c]! : s), 0);
      expect(sum).toBe(brute(cost, rows, cols));
    }
  });
});
