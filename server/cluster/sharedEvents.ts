// Person events as the shared database holds them (cluster mode): what GET /api/events lists on every node,
// whichever node analysed the camera.
import type pg from 'pg';
import type { EventQuery, StoredEvent } from '../../streams/events.ts';

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

export class SharedEvents {
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
      `SELECT id, type, camera_id, track_id, name, score, at, crop IS NOT NULL AS has_crop FROM events
        ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      type: r.type,
      cameraId: r.camera_id,
      trackId: r.track_id,
      name: r.name,
      score: r.score,
      at: Number(r.at),
      hasCrop: r.has_crop,
    }));
  }

  async crop(id: number): Promise<Uint8Array | undefined> {
    const { rows } = await this.pool.query<{ crop: Buffer | null }>('SELECT crop FROM events WHERE id = $1', [id]);
    const jpeg = rows[0]?.crop;
    return jpeg ? new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength) : undefined;
  }
}
