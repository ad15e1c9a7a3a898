// The embedding of each event's face crop, computed on first use (a "not this person" click, the unknown-faces
// gallery) and kept in the shared SQLite database by (event id, model id), so a gallery of hundreds of visits is
// embedded once. Rows whose crop is gone (trimmed or pruned with its event) are dropped by `prune`. In cluster mode
// the crops come from every node (event ids are the same on every node) and the shared database keeps them until
// EVENTS_RETENTION_DAYS: a row goes when its event is not there (gone, or not yet copied from a node's outbox: then
// it is embedded again on next use).
import type { Database, Statement } from 'better-sqlite3';
import { storageProblem } from '../facebank/storageError.ts';
import type { EventReader } from './events.ts';

/** Idempotent. Embeddings are little-endian float32, like the facebank's. */
export const EVENT_FACES_SCHEMA = `
CREATE TABLE IF NOT EXISTS events_faces (
  event_id  INTEGER NOT NULL,
  model_id  TEXT    NOT NULL,
  embedding BLOB    NOT NULL,
  PRIMARY KEY (event_id, model_id)
) WITHOUT ROWID;
`;

/** Embeds the face a crop JPEG is about (the facebank's own way, so it compares with the templates). */
export type EmbedCrop = (jpeg: Uint8Array) => Promise<Float32Array>;

function fromBlob(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export interface EventFacesOptions {
  /**
   * Cluster mode: which of these events the shared database still holds (crops are read from there too, so a
   * row stays while its event does, whatever this node's own store has trimmed).
   */
  stored?: (ids: number[]) => Promise<Set<number>>;
}

/** Cached event ids checked against the shared database per query. */
const SHARED_PRUNE_BATCH = 1000;
/**
 * In cluster mode `prune` asks the shared database at most this often: the gallery may be opened often, and
 * retention deletes there once a minute at most (server/cluster/node.ts).
 */
const SHARED_PRUNE_EVERY_MS = 60_000;

export class EventFaces {
  private readonly getRow: Statement<[number, string], { embedding: Buffer }>;
  private readonly putRow: Statement<[number, string, Buffer]>;
  private readonly deleteOrphans: Statement<[]>;
  private readonly idsAfter: Statement<[number, number], { event_id: number }>;
  /** Deletes the rows of these events in one transaction; returns how many. */
  private readonly deleteEvents: (ids: number[]) => number;
  private lastSharedPrune = Number.NEGATIVE_INFINITY;
  /** One embedding in flight per event, however many requests ask for it. */
  private readonly pending = new Map<number, Promise<Float32Array | undefined>>();

  constructor(
    db: Database,
    private readonly crops: Pick<EventReader, 'crop'>,
    private readonly embed: EmbedCrop,
    readonly modelId: string,
    private readonly options: EventFacesOptions = {},
  ) {
    db.exec(EVENT_FACES_SCHEMA);
    this.getRow = db.prepare('SELECT embedding FROM events_faces WHERE event_id = ? AND model_id = ?');
    this.putRow = db.prepare('INSERT OR REPLACE INTO events_faces (event_id, model_id, embedding) VALUES (?, ?, ?)');
    this.deleteOrphans = db.prepare(
      'DELETE FROM events_faces WHERE event_id NOT IN (SELECT event_id FROM events_crops)',
    );
    this.idsAfter = db.prepare(
      'SELECT DISTINCT event_id FROM events_faces WHERE event_id > ? ORDER BY event_id LIMIT ?',
    );
    const deleteEvent = db.prepare('DELETE FROM events_faces WHERE event_id = ?');
    this.deleteEvents = db.transaction((ids: number[]) => ids.reduce((n, id) => n + deleteEvent.run(id).changes, 0));
  }

  /** The embedding of the event's crop; undefined when the event has no crop (any more). */
  embedding(eventId: number): Promise<Float32Array | undefined> {
    const row = this.getRow.get(eventId, this.modelId);
    if (row !== undefined) return Promise.resolve(fromBlob(row.embedding));
    let p = this.pending.get(eventId);
    if (p === undefined) {
      p = this.compute(eventId).finally(() => this.pending.delete(eventId));
      this.pending.set(eventId, p);
    }
    return p;
  }

  /**
   * Drops the embeddings of crops that are gone; returns how many rows (0 when the storage cannot be written now,
   * or, in cluster mode, when the shared database was asked less than SHARED_PRUNE_EVERY_MS ago).
   */
  async prune(): Promise<number> {
    try {
      return this.options.stored ? await this.pruneShared(this.options.stored) : this.deleteOrphans.run().changes;
    } catch (err) {
      // Housekeeping before a read (the unknown-faces gallery): the gallery is still answered, and a later
      // prune catches up.
      if (storageProblem(err) === undefined) throw err;
      return 0;
    }
  }

  private async pruneShared(stored: (ids: number[]) => Promise<Set<number>>): Promise<number> {
    const now = Date.now();
    if (now - this.lastSharedPrune < SHARED_PRUNE_EVERY_MS) return 0;
    this.lastSharedPrune = now;
    let deleted = 0;
    for (let after = Number.MIN_SAFE_INTEGER; ; ) {
      const ids = this.idsAfter.all(after, SHARED_PRUNE_BATCH).map((r) => r.event_id);
      if (ids.length === 0) return deleted;
      const kept = await stored(ids);
      deleted += this.deleteEvents(ids.filter((id) => !kept.has(id)));
      after = ids.at(-1)!;
    }
  }

  private async compute(eventId: number): Promise<Float32Array | undefined> {
    const jpeg = await this.crops.crop(eventId);
    if (jpeg === undefined) return undefined;
    const e = await this.embed(jpeg);
    try {
      this.putRow.run(eventId, this.modelId, Buffer.from(e.buffer, e.byteOffset, e.byteLength));
    } catch (err) {
      // A cache: on full or read-only storage the embedding is still answered, and computed again next time.
      if (storageProblem(err) === undefined) throw err;
    }
    return e;
  }
}
