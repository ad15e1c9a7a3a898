// Person events (appeared / left) kept in the shared SQLite database, with the best face crop of each when one
// was taken. Tables are prefixed events_ and created idempotently; old events are deleted after a retention
// period, and crops are kept for the most recent events only, so the file cannot grow without bound.
import type { Database, Statement } from 'better-sqlite3';
import { asStorageError, storageProblem } from '../facebank/storageError.ts';
import type { Logger } from '../models/logger.ts';
import { EventDrops } from './eventDrops.ts';
import { OUTBOX_SCHEMA } from './eventOutbox.ts';
import type { PersonEvent } from './types.ts';

/** Idempotent. `at` is epoch milliseconds; crops live in their own table so listing never reads them. */
export const EVENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS events_person (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  type      TEXT    NOT NULL CHECK (type IN ('person_appeared', 'person_left')),
  camera_id TEXT    NOT NULL,
  track_id  INTEGER NOT NULL,
  name      TEXT    NOT NULL,
  score     REAL    NOT NULL,
  at        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_person_at ON events_person (at);
DROP INDEX IF EXISTS events_person_camera;
DROP INDEX IF EXISTS events_person_name;
CREATE INDEX IF NOT EXISTS events_person_camera_at ON events_person (camera_id, at);
CREATE INDEX IF NOT EXISTS events_person_name_at ON events_person (name, at);
CREATE TABLE IF NOT EXISTS events_crops (
  event_id INTEGER PRIMARY KEY REFERENCES events_person (id) ON DELETE CASCADE,
  jpeg     BLOB    NOT NULL
);
`;

/** The last event id handed out in `db` so far (0 when none), deleted events included. */
export function lastEventId(db: Database): number {
  db.exec(EVENTS_SCHEMA);
  const seq = db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'events_person'").get();
  const max = db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM events_person').get()?.id ?? 0;
  return Math.max(seq?.seq ?? 0, max);
}

/**
 * Numbers the events stored from now on above `floor` (cluster mode: this node's id range, so ids are the same on
 * every node), unless they already are.
 */
export function numberEventsAbove(db: Database, floor: number): void {
  if (lastEventId(db) >= floor) return;
  db.transaction(() => {
    const set = db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'events_person'").run(floor);
    if (set.changes === 0) db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('events_person', ?)").run(floor);
  })();
}

/** Where a pipeline stores its events (the store itself, or one that stamps them with the camera's lease epoch). */
export interface EventSink {
  insert(event: Omit<PersonEvent, 'id'>): number;
}

/** A stored event as listed: without its crop, which `crop(id)` returns. */
export interface StoredEvent extends Omit<PersonEvent, 'crop'> {
  hasCrop: boolean;
}

export interface EventQuery {
  cameraId?: string;
  /** Exact person name ('Unknown' included). */
  name?: string;
  /** Events at or after this time (epoch ms). */
  since?: number;
  /**
   * The cursor for the next page: the events listed after this one (the last id of the previous page). Lists go by
   * time, then id, as ids follow time within one node only (cluster mode).
   */
  before?: number;
  /** 1..1000. */
  limit: number;
}

/**
 * Where events are read: the node's own store (answers at once), or in cluster mode every node's
 * (server/cluster/sharedEvents.ts, in promises).
 */
export interface EventReader {
  /** Newest first (by time, then id), without crops. */
  list(query: EventQuery): StoredEvent[] | Promise<StoredEvent[]>;
  /** One event, or undefined when there is no such event. */
  get(id: number): StoredEvent | undefined | Promise<StoredEvent | undefined>;
  /** The event's crop JPEG, or undefined when it has none (or there is no such event). */
  crop(id: number): Uint8Array | undefined | Promise<Uint8Array | undefined>;
}

export interface EventsStoreOptions {
  /** Events older than this many days are deleted on open and every hour (EVENTS_RETENTION_DAYS; 0: kept). */
  retentionDays: number;
  /** Crops are kept for the most recent this many events only (the server keeps MAX_EVENT_CROPS). */
  maxCrops: number;
  /** Time source for retention (tests). */
  now?: () => number;
  /** Where dropped events are reported (see EventDrops). */
  logger?: Logger;
  /** Queue every event in events_outbox too (cluster mode: a drainer copies them to the shared database). */
  outbox?: boolean;
}

/** The crops the server keeps: those of the most recent 10 000 events. */
export const MAX_EVENT_CROPS = 10_000;

export const DAY_MS = 24 * 60 * 60 * 1000;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/** Old crops are trimmed every this many stored crops as well as hourly, so a busy hour cannot overshoot much. */
const CROP_TRIM_EVERY = 100;

interface EventRow {
  id: number;
  type: PersonEvent['type'];
  camera_id: string;
  track_id: number;
  name: string;
  score: number;
  at: number;
  has_crop: number;
}

function toStored(r: EventRow): StoredEvent {
  return {
    id: r.id,
    type: r.type,
    cameraId: r.camera_id,
    trackId: r.track_id,
    name: r.name,
    score: r.score,
    at: r.at,
    hasCrop: r.has_crop === 1,
  };
}

export class EventsStore implements EventReader {
  readonly retentionDays: number;
  readonly maxCrops: number;
  /** Events that could not be stored (storage full or read-only). */
  readonly drops: EventDrops;
  private readonly now: () => number;
  private readonly insertEvent: Statement<[string, string, number, string, number, number]>;
  private readonly insertCrop: Statement<[number | bigint, Buffer]>;
  private readonly getCrop: Statement<[number], { jpeg: Buffer }>;
  private readonly getEvent: Statement<[number], EventRow>;
  private readonly deleteOld: Statement<[number]>;
  private readonly deleteOldCrops: Statement<[number]>;
  private readonly deleteOrphanCrops: Statement<[]>;
  private readonly maxId: Statement<[], { id: number | null }>;
  private readonly queue: Statement<[number | bigint, number | null]> | undefined;
  /** Outbox rows whose event retention deleted (those refused by the shared database stay until then). */
  private readonly deleteOrphanQueued: Statement<[]> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cropsSinceTrim = 0;

  constructor(
    private readonly db: Database,
    options: EventsStoreOptions,
  ) {
    this.retentionDays = options.retentionDays;
    this.maxCrops = options.maxCrops;
    this.now = options.now ?? Date.now;
    this.drops = new EventDrops(options.logger);
    if (!(this.retentionDays >= 0)) throw new Error(`retentionDays must be 0 or more; got ${this.retentionDays}`);
    if (!(this.maxCrops >= 0)) throw new Error(`maxCrops must be 0 or more; got ${this.maxCrops}`);
    db.exec(EVENTS_SCHEMA);
    this.insertEvent = db.prepare(
      'INSERT INTO events_person (type, camera_id, track_id, name, score, at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.insertCrop = db.prepare('INSERT OR REPLACE INTO events_crops (event_id, jpeg) VALUES (?, ?)');
    this.getCrop = db.prepare('SELECT jpeg FROM events_crops WHERE event_id = ?');
    this.getEvent = db.prepare(
      'SELECT e.id, e.type, e.camera_id, e.track_id, e.name, e.score, e.at, ' +
        'EXISTS (SELECT 1 FROM events_crops c WHERE c.event_id = e.id) AS has_crop FROM events_person e WHERE e.id = ?',
    );
    this.deleteOld = db.prepare('DELETE FROM events_person WHERE at < ?');
    this.deleteOldCrops = db.prepare('DELETE FROM events_crops WHERE event_id <= ?');
    // The foreign key's cascade only works with PRAGMA foreign_keys on, which is the opener's choice.
    this.deleteOrphanCrops = db.prepare(
      'DELETE FROM events_crops WHERE event_id NOT IN (SELECT id FROM events_person)',
    );
    this.maxId = db.prepare('SELECT MAX(id) AS id FROM events_person');
    if (options.outbox) {
      db.exec(OUTBOX_SCHEMA);
      this.queue = db.prepare('INSERT INTO events_outbox (event_id, epoch) VALUES (?, ?)');
      this.deleteOrphanQueued = db.prepare(
        'DELETE FROM events_outbox WHERE event_id NOT IN (SELECT id FROM events_person)',
      );
    }
    // A server started on full or read-only storage still starts: pruning waits for the next hourly run.
    try {
      this.prune();
    } catch (err) {
      if (storageProblem(err) === undefined) throw err;
    }
    this.timer = setInterval(() => this.safePrune(), PRUNE_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Stores an event (and its crop, if any); returns its id. When the storage is full or read-only the event is
   * dropped (counted in `drops`) and a StorageError thrown: the caller carries on without it. `epoch`: the lease
   * its camera was analysed under, queued with it in the outbox (cluster mode).
   */
  insert(event: Omit<PersonEvent, 'id'>, epoch: number | null = null): number {
    let id: number;
    try {
      id = this.db.transaction(() => {
        const info = this.insertEvent.run(
          event.type,
          event.cameraId,
          event.trackId,
          event.name,
          event.score,
          Math.round(event.at),
        );
        const rowid = info.lastInsertRowid;
        if (event.crop && event.crop.byteLength > 0 && this.maxCrops > 0) {
          this.insertCrop.run(rowid, Buffer.from(event.crop.buffer, event.crop.byteOffset, event.crop.byteLength));
        }
        this.queue?.run(rowid, epoch);
        return Number(rowid);
      })();
    } catch (err) {
      const storage = asStorageError(err, 'the event', false);
      if (storage === undefined) throw err;
      this.drops.drop(event.cameraId, storage.problem, storage.detail);
      throw storage;
    }
    this.drops.stored();
    if (event.crop && ++this.cropsSinceTrim >= CROP_TRIM_EVERY) {
      try {
        this.trimCrops();
      } catch (err) {
        // Trimming writes too; the event is stored, and the next trim catches up.
        if (storageProblem(err) === undefined) throw err;
      }
    }
    return id;
  }

  /** Newest first (by time, then id), without crops. */
  list(query: EventQuery): StoredEvent[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.cameraId !== undefined) {
      where.push('e.camera_id = ?');
      params.push(query.cameraId);
    }
    if (query.name !== undefined) {
      where.push('e.name = ?');
      params.push(query.name);
    }
    if (query.since !== undefined) {
      where.push('e.at >= ?');
      params.push(query.since);
    }
    if (query.before !== undefined) {
      where.push('(e.at, e.id) < (SELECT c.at, c.id FROM events_person c WHERE c.id = ?)');
      params.push(query.before);
    }
    const limit = Math.max(1, Math.min(1000, Math.floor(query.limit)));
    const sql =
      'SELECT e.id, e.type, e.camera_id, e.track_id, e.name, e.score, e.at, ' +
      'EXISTS (SELECT 1 FROM events_crops c WHERE c.event_id = e.id) AS has_crop ' +
      `FROM events_person e ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY e.at DESC, e.id DESC LIMIT ?`;
    const rows = this.db.prepare<(string | number)[], EventRow>(sql).all(...params, limit);
    return rows.map(toStored);
  }

  /** One event, or undefined when there is no such event (never stored, or pruned). */
  get(id: number): StoredEvent | undefined {
    if (!Number.isSafeInteger(id)) return undefined;
    const row = this.getEvent.get(id);
    return row ? toStored(row) : undefined;
  }

  /** The event's crop JPEG, or undefined when it has none (never taken, trimmed, or no such event). */
  crop(id: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(id)) return undefined;
    const row = this.getCrop.get(id);
    return row ? new Uint8Array(row.jpeg.buffer, row.jpeg.byteOffset, row.jpeg.byteLength) : undefined;
  }

  /** Deletes events past retention and crops beyond the cap; returns the number of events deleted. */
  prune(now = this.now()): number {
    let deleted = 0;
    if (this.retentionDays > 0) {
      deleted = this.db.transaction(() => {
        const n = this.deleteOld.run(now - this.retentionDays * DAY_MS).changes;
        if (n > 0) {
          this.deleteOrphanCrops.run();
          this.deleteOrphanQueued?.run();
        }
        return n;
      })();
    }
    this.trimCrops();
    return deleted;
  }

  /** Stops the hourly retention timer. The database stays open: it belongs to the caller. */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private trimCrops(): void {
    this.cropsSinceTrim = 0;
    const max = this.maxId.get()?.id;
    if (max === null || max === undefined) return;
    // Ids grow with time: the crops of the last maxCrops events are those with id > max − maxCrops.
    this.deleteOldCrops.run(max - this.maxCrops);
  }

  private safePrune(): void {
    try {
      this.prune();
    } catch {
      // The database may be closed under a timer that has not been cleared yet; the next run tries again.
    }
  }
}
