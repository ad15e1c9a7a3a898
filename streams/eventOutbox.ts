// Cluster mode's outbox: the events still to be copied to the shared database, in the node's own SQLite file.
// EventsStore queues each event here in the event's own transaction (so an event is either stored and queued or
// neither); a drainer (server/cluster/drainer.ts) copies them and takes them off. The key the shared database
// deduplicates on is (origin, event id): the origin is this SQLite file's random id, so it survives a restart
// under another node name, and an event copied twice (a crash between copy and take-off) is stored once.
import { randomUUID } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { PersonEvent } from './types.ts';

/**
 * `epoch`: the lease its camera was analysed under (NULL for a camera not shared out). `refused` marks an event
 * the shared database would not take: analysed after this node's lease had passed to another node.
 */
export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS events_outbox (
  event_id INTEGER PRIMARY KEY,
  epoch    INTEGER,
  refused  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS events_outbox_origin (
  one    INTEGER PRIMARY KEY CHECK (one = 1),
  origin TEXT    NOT NULL
);
`;

/** A queued event with what the shared database needs of it. */
export interface OutboxEvent extends Omit<PersonEvent, 'crop'> {
  epoch: number | null;
  crop: Buffer | null;
}

interface Row {
  event_id: number;
  epoch: number | null;
  type: PersonEvent['type'] | null;
  camera_id: string;
  track_id: number;
  name: string;
  score: number;
  at: number;
  jpeg: Buffer | null;
}

/** This SQLite file's id in the shared database (made on first use, then kept). */
export function outboxOrigin(db: Database): string {
  db.exec(OUTBOX_SCHEMA);
  db.prepare('INSERT OR IGNORE INTO events_outbox_origin (one, origin) VALUES (1, ?)').run(randomUUID());
  return db.prepare<[], { origin: string }>('SELECT origin FROM events_outbox_origin').get()!.origin;
}

export class EventOutbox {
  /** This database's id in the shared database's idempotency key. */
  readonly origin: string;
  private readonly pendingRows: Statement<[number], Row>;
  private readonly remove: Statement<[number]>;
  private readonly refuse: Statement<[number]>;
  private readonly waiting: Statement<[], { n: number }>;

  constructor(db: Database) {
    this.origin = outboxOrigin(db);
    // An event pruned by retention before it was copied comes back with a NULL type: it is taken off.
    this.pendingRows = db.prepare(
      'SELECT o.event_id, o.epoch, e.type, e.camera_id, e.track_id, e.name, e.score, e.at, c.jpeg ' +
        'FROM events_outbox o LEFT JOIN events_person e ON e.id = o.event_id ' +
        'LEFT JOIN events_crops c ON c.event_id = o.event_id WHERE o.refused = 0 ORDER BY o.event_id LIMIT ?',
    );
    this.remove = db.prepare('DELETE FROM events_outbox WHERE event_id = ?');
    this.refuse = db.prepare('UPDATE events_outbox SET refused = 1 WHERE event_id = ?');
    this.waiting = db.prepare('SELECT COUNT(*) AS n FROM events_outbox WHERE refused = 0');
  }

  /** The oldest `limit` events still to copy (events pruned meanwhile are taken off here). */
  pending(limit: number): OutboxEvent[] {
    const out: OutboxEvent[] = [];
    for (const r of this.pendingRows.all(limit)) {
      if (r.type === null) {
        this.remove.run(r.event_id);
        continue;
      }
      out.push({
        id: r.event_id,
        epoch: r.epoch,
        type: r.type,
        cameraId: r.camera_id,
        trackId: r.track_id,
        name: r.name,
        score: r.score,
        at: r.at,
        crop: r.jpeg,
      });
    }
    return out;
  }

  /** The shared database has it. */
  done(eventId: number): void {
    this.remove.run(eventId);
  }

  /** The shared database refused it (stale lease): kept here, marked, never retried. */
  refused(eventId: number): void {
    this.refuse.run(eventId);
  }

  /** Events still to copy (refused ones not counted). */
  depth(): number {
    return this.waiting.get()?.n ?? 0;
  }
}
