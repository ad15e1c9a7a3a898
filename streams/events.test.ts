import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EventsStore, type EventsStoreOptions, lastEventId, MAX_EVENT_CROPS, numberEventsAbove } from './events.ts';
import type { PersonEvent } from './types.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2025, 0, 1);

function event(o: Partial<Omit<PersonEvent, 'id'>> = {}): Omit<PersonEvent, 'id'> {
  return { type: 'person_appeared', cameraId: 'cam1', trackId: 1, name: 'penny', score: 0.8, at: T0, ...o };
}

const jpeg = (n: number) => new Uint8Array([0xff, 0xd8, n, 0xff, 0xd9]);

describe('EventsStore', () => {
  const stores: EventsStore[] = [];
  const open = (db: Database.Database, o: Partial<EventsStoreOptions> = {}) => {
    const s = new EventsStore(db, { maxCrops: MAX_EVENT_CROPS, now: () => T0, retentionDays: 30, ...o });
    stores.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of stores.splice(0)) s.close();
  });

  it('stores events and lists them newest first, without crops, with filters and a cursor', () => {
    const db = new Database(':memory:');
    const store = open(db);
    const ids = [
      store.insert(event({ name: 'penny', at: T0 + 1 })),
      store.insert(event({ name: 'leonard', at: T0 + 2, cameraId: 'cam2', crop: jpeg(1) })),
      store.insert(event({ type: 'person_left', name: 'penny', at: T0 + 3, crop: jpeg(2) })),
      store.insert(event({ name: 'Unknown', score: 0.1, at: T0 + 4, trackId: 7 })),
    ];
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const all = store.list({ limit: 10 });
    expect(all.map((e) => e.id)).toEqual([...ids].reverse());
    expect(all[0]).toEqual({
      id: ids[3],
      type: 'person_appeared',
      cameraId: 'cam1',
      trackId: 7,
      name: 'Unknown',
      score: 0.1,
      at: T0 + 4,
      hasCrop: false,
    });
    expect(all.map((e) => e.hasCrop)).toEqual([false, true, true, false]);
    expect(all.every((e) => !('crop' in e))).toBe(true);

    expect(store.list({ cameraId: 'cam2', limit: 10 }).map((e) => e.name)).toEqual(['leonard']);
    expect(store.list({ name: 'penny', limit: 10 }).map((e) => e.type)).toEqual(['person_left', 'person_appeared']);
    expect(store.list({ since: T0 + 3, limit: 10 }).map((e) => e.at)).toEqual([T0 + 4, T0 + 3]);
    expect(store.list({ limit: 2 }).map((e) => e.id)).toEqual([ids[3], ids[2]]);
    expect(store.list({ before: ids[2], limit: 10 }).map((e) => e.id)).toEqual([ids[1], ids[0]]);
    expect(store.list({ cameraId: 'cam1', name: 'penny', before: ids[2], limit: 10 }).map((e) => e.id)).toEqual([
      ids[0],
    ]);
    // The limit is clamped to 1..1000.
    expect(store.list({ limit: 0 })).toHaveLength(1);
  });

  it('lists by time then id, and pages on from the cursor event, when ids do not follow time', () => {
    const store = open(new Database(':memory:'));
    // A "left" event is stored when its track times out: after a later arrival, with an earlier time.
    const late = store.insert(event({ at: T0 + 5 }));
    const early = store.insert(event({ type: 'person_left', at: T0 + 1 }));
    const middle = store.insert(event({ at: T0 + 3 }));
    const same = store.insert(event({ name: 'raj', at: T0 + 3 }));
    expect(store.list({ limit: 10 }).map((e) => e.id)).toEqual([late, same, middle, early]);
    expect(store.list({ before: late, limit: 2 }).map((e) => e.id)).toEqual([same, middle]);
    expect(store.list({ before: middle, limit: 10 }).map((e) => e.id)).toEqual([early]);
    expect(store.list({ before: early, limit: 10 })).toEqual([]);
  });

  it('numbers events above a floor (cluster mode ranges), never back down', () => {
    const db = new Database(':memory:');
    expect(lastEventId(db)).toBe(0);
    numberEventsAbove(db, 2 ** 40);
    const store = open(db);
    const first = store.insert(event());
    expect(first).toBe(2 ** 40 + 1);
    numberEventsAbove(db, 1000);
    expect(store.insert(event())).toBe(first + 1);
    // Deleted events' ids are not handed out again.
    db.exec('DELETE FROM events_person');
    expect(lastEventId(db)).toBe(first + 1);
    expect(store.insert(event())).toBe(first + 2);
  });

  it('returns crops by event id', () => {
    const store = open(new Database(':memory:'));
    const withCrop = store.insert(event({ crop: jpeg(9) }));
    const without = store.insert(event());
    expect([...store.crop(withCrop)!]).toEqual([...jpeg(9)]);
    expect(store.crop(without)).toBeUndefined();
    expect(store.crop(12345)).toBeUndefined();
    expect(store.crop(Number.NaN)).toBeUndefined();
  });

  it('creates its tables idempotently and keeps events across re-opens', () => {
    const db = new Database(':memory:');
    const a = open(db);
    const id = a.insert(event({ crop: jpeg(3) }));
    a.close();
    const b = open(db);
    expect(b.list({ limit: 10 }).map((e) => e.id)).toEqual([id]);
    expect(b.crop(id)).toBeDefined();
  });

  it('deletes events past retention on open and on prune, with their crops', () => {
    const db = new Database(':memory:');
    const a = open(db, { retentionDays: 30 });
    const old = a.insert(event({ at: T0 - 31 * DAY, crop: jpeg(1) }));
    const recent = a.insert(event({ at: T0 - 29 * DAY, crop: jpeg(2) }));
    // Written "in the past" by this store's clock: nothing is deleted until the next prune.
    expect(a.list({ limit: 10 })).toHaveLength(2);
    a.close();
    // A store opened now prunes at once.
    const b = open(db, { retentionDays: 30 });
    expect(b.list({ limit: 10 }).map((e) => e.id)).toEqual([recent]);
    expect(b.crop(old)).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) AS n FROM events_crops').get()).toEqual({ n: 1 });
    // Two days later, the other one goes too.
    expect(b.prune(T0 + 2 * DAY)).toBe(1);
    expect(b.list({ limit: 10 })).toEqual([]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM events_crops').get()).toEqual({ n: 0 });
  });

  it('in cluster mode, forgets outbox rows with their events (refused ones are kept until then)', () => {
    const db = new Database(':memory:');
    const a = open(db, { retentionDays: 30, outbox: true });
    const old = a.insert(event({ at: T0 - 31 * DAY }));
    a.insert(event({ at: T0 - 29 * DAY }));
    db.prepare('UPDATE events_outbox SET refused = 1 WHERE event_id = ?').run(old);
    const queued = () => db.prepare('SELECT event_id FROM events_outbox ORDER BY event_id').pluck().all();
    expect(queued()).toHaveLength(2);
    a.prune();
    expect(queued()).toEqual([old + 1]);
  });

  it('keeps forever with retentionDays 0', () => {
    const store = open(new Database(':memory:'), { retentionDays: 0 });
    store.insert(event({ at: T0 - 1000 * DAY }));
    expect(store.prune(T0)).toBe(0);
    expect(store.list({ limit: 10 })).toHaveLength(1);
  });

  it('keeps crops for the most recent events only', () => {
    const db = new Database(':memory:');
    const store = open(db, { maxCrops: 10 });
    const ids: number[] = [];
    for (let i = 0; i < 150; i++) ids.push(store.insert(event({ trackId: i, crop: jpeg(i) })));
    // Trimmed as it goes (every 100 crops), and fully on prune.
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM events_crops').get() as { n: number }).n;
    expect(count()).toBeLessThanOrEqual(60);
    store.prune();
    expect(count()).toBe(10);
    expect(store.crop(ids[139]!)).toBeUndefined();
    expect(store.crop(ids[140]!)).toBeDefined();
    expect(store.crop(ids[149]!)).toBeDefined();
    // The events themselves stay.
    expect(store.list({ limit: 1000 })).toHaveLength(150);
    expect(store.list({ limit: 1000 }).filter((e) => e.hasCrop)).toHaveLength(10);
  });
});
