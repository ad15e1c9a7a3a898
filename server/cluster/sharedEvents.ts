// Person events as the shared database holds them (cluster mode): what GET /api/events lists, the unknown-faces
// gallery groups and "not this person" rejects on every node, whichever node analysed the camera.
import type pg from 'pg';
import { DAY_MS, type EventQuery, type EventReader, type EventsStore, type StoredEvent } from '../../streams/events.ts';

interface Row {
  id: string;
  type: StoredEvent['type'];
  camera_id: string;
  track_id: number;
  name: string;
  score: number;
  at: string;
  has_crop: boolean;
}

const COLUMNS = 'id, type, camera_id, track_id, name, score, at, crop IS NOT NULL AS has_crop';

/**
 * Rows per DELETE when events past retention are deleted: a first run over a long-kept table deletes in short
 * statements, so no query holds the pool (and the node's lease renewals behind it) for long.
 */
const PRUNE_BATCH = 5000;

function toStored(r: Row): StoredEvent {
  return {
    id: Number(r.id),
    type: r.type,
    cameraId: r.camera_id,
    trackId: r.track_id,
    name: r.name,
    score: r.score,
    at: Number(r.at),
    hasCrop: r.has_crop,
  };
}

export class SharedEvents implements EventReader {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Newest first, without crops (the single-node store's query). Ids follow time within a node only, so the order
   * is by time and `before` means "listed after that event".
   */
  async list(query: EventQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (sql: string, value: string | number) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.cameraId !== undefined) add('camera_id = ?', query.cameraId);
    if (query.name !== undefined) add('name = ?', query.name);
    if (query.since !== undefined) add('at >= ?', query.since);
    if (query.before !== undefined) {
      add('(at, id) < (SELECT c.at, c.id FROM events c WHERE c.id = ?)', query.before);
    }
    params.push(Math.max(1, Math.min(1000, Math.floor(query.limit))));
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM events
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toStored);
  }

  async get(id: number): Promise<StoredEvent | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.pool.query<Row>(`SELECT ${COLUMNS} FROM events WHERE id = $1`, [id]);
    return rows[0] && toStored(rows[0]);
  }

  /**
   * Deletes the events (with their crops) older than `retentionDays` days before `now`, as every node's own store
   * does (EVENTS_RETENTION_DAYS; 0 keeps them); returns how many. Any node may run it at any time: the same rows
   * go whoever deletes them. Between batches it stops early when `goOn` says so (a node shutting down).
   */
  async prune(retentionDays: number, now = Date.now(), goOn: () => boolean = () => true): Promise<number> {
    if (!(retentionDays > 0)) return 0;
    const before = now - retentionDays * DAY_MS;
    let deleted = 0;
    while (goOn()) {
      const { rowCount } = await this.pool.query(
        'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)',
        [before, PRUNE_BATCH],
      );
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < PRUNE_BATCH) break;
    }
    return deleted;
  }

  /** Which of these events the shared database holds (those past retention are gone). */
  async stored(ids: number[]): Promise<Set<number>> {
    const { rows } = await this.pool.query<{ id: string }>('SELECT id FROM events WHERE id = ANY($1::bigint[])', [ids]);
    return new Set(rows.map((r) => Number(r.id)));
  }

  async crop(id: number): Promise<Uint8Array | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const { rows } = await this.pool.query<{ crop: Buffer | null }>('SELECT crop FROM events WHERE id = $1', [id]);
    const jpeg = rows[0]?.crop;
    return jpeg ? new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) : undefined;
  }
}

/**
 * Every node's events as a node reads them: listed from PostgreSQL; one event, and its crop, from the node's own
 * SQLite first when it is one of its own (no round trip, and there before the drainer has copied it), else from
 * PostgreSQL, which also keeps the crops the node has trimmed.
 */
export function clusterEvents(own: EventsStore, shared: SharedEvents): EventReader {
  return {
    list: (query) => shared.list(query),
    get: async (id) => {
      const mine = own.get(id);
      return mine?.hasCrop ? mine : ((await shared.get(id)) ?? mine);
    },
    crop: async (id) => own.crop(id) ?? shared.crop(id),
  };
}
