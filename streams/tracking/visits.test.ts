import { describe, expect, test } from 'vitest';
import { amy, brief, det, raj, stranger, tracker } from './testing.ts';
import type { FaceTracker } from './tracker.ts';
import type { TrackerEvent } from './trackerTypes.ts';

describe('visits and cooldown', () => {
  /** Face visible at [from, to) every 100 ms with the given match, nothing otherwise. */
  function run(tr: FaceTracker, spans: { from: number; to: number; m: Float32Array; cx?: number }[], end: number) {
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
    const tr = tracker({ cooldownMs: 10_000 });
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
    const tr = tracker({ cooldownMs: 2000 });
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
    const tr = tracker({ cooldownMs: 10_000 });
    const r = run(
      tr,
      [
        { from: 0, to: 1000, m: stranger() },
        { from: 2000, to: 3000, m: raj() },
        // Same place: the same unknown visitor, most likely.
        { from: 4000, to: 5000, m: stranger() },
        // Across the frame: someone else.
        { from: 6000, to: 7000, m: stranger(), cx: 600 },
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
    const tr = tracker({ cooldownMs: 10_000 });
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
    const tr = tracker();
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
      box: { x1: 55, y1: 55, x2: 145, y2: 145 },
      quality: expect.closeTo(8019),
      at: 300,
    });
  });
});
