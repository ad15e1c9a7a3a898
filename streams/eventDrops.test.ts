// Dropped events are counted one by one but logged per streak: once at the start, at most once a minute while
// it lasts, and once at its end.

import { describe, expect, it } from 'vitest';
import { recordingLogger } from '../test/support/recordingLogger.ts';
import { DROP_LOG_INTERVAL_MS, EventDrops } from './eventDrops.ts';

describe('EventDrops', () => {
  it('counts every drop, by problem and camera, and logs a streak of 500 drops over 2.5 minutes in 4 lines', () => {
    let now = 1_000_000;
    const { logger, lines } = recordingLogger();
    const drops = new EventDrops(logger, () => now);
    const start = now;
    // 500 events over 150 s from two cameras, storage full.
    for (let i = 0; i < 500; i++) {
      now = start + i * 300;
      drops.drop(i % 2 === 0 ? 'door' : 'hall', 'full', 'SQLITE_FULL');
    }
    expect(drops.stats()).toEqual({
      dropped: 500,
      byProblem: { full: 500, unwritable: 0 },
      byCamera: { door: 250, hall: 250 },
      dropping: true,
      lastProblem: 'full',
      lastDropAt: now,
    });
    // The start, then a summary each minute (at 60 s and 120 s).
    expect(lines.map((l) => l.level)).toEqual(['warn', 'warn', 'warn']);
    expect(lines[0]!.message).toMatch(/^events cannot be stored \(storage full\)/);
    const summaries = lines.slice(1).map((l) => l.details);
    expect(summaries.map((d) => d.streak)).toEqual([
      1 + DROP_LOG_INTERVAL_MS / 300,
      1 + (2 * DROP_LOG_INTERVAL_MS) / 300,
    ]);
    // Each summary counts the drops since the line before it; together with the first, all of them up to there.
    expect(summaries.map((d) => d.dropped)).toEqual([DROP_LOG_INTERVAL_MS / 300, DROP_LOG_INTERVAL_MS / 300]);

    drops.stored();
    drops.stored();
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: 'info', details: { dropped: 500, total: 500 } });
    expect(lines[3]!.message).toBe('events are stored again; 500 were dropped while the storage could not be written');
    expect(drops.stats()).toMatchObject({ dropped: 500, dropping: false });

    // A new streak (read-only this time) starts with its own first line.
    drops.drop('door', 'unwritable', 'SQLITE_READONLY');
    expect(lines).toHaveLength(5);
    expect(lines[4]!.message).toMatch(/^events cannot be stored \(storage not writable\)/);
    expect(drops.stats()).toMatchObject({ dropped: 501, byProblem: { full: 500, unwritable: 1 }, dropping: true });
  });
});
