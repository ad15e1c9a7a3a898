// Copies the node's outbox (events in its own SQLite file, streams/eventOutbox.ts) to the shared database, oldest
// first. While the database is away, events wait in the outbox; none is lost, and each is stored once: the
// database deduplicates on (origin, local id).
//
// Fencing: an event analysed under a lease is taken only if that lease (camera, epoch) was still current when the
// event happened, by the database's clock (the node's clock plus the offset the lease loop measures). A node that
// was frozen, or cut off, while another took its camera cannot add what it analysed afterwards; what it analysed
// while the camera was still its own is kept.
import type pg from 'pg';
import type { EventOutbox, OutboxEvent } from '../../streams/eventOutbox.ts';
import type { EventIdRange } from './eventIds.ts';

const BATCH = 100;

export type Outcome = 'stored' | 'duplicate' | 'refused';

/**
 * Writes one event under the fencing rule; says whether it was stored, already there, or refused. It keeps its id
 * when that id is in the origin's `range` (the shared database's serial numbers it otherwise: events queued before
 * the origin had a range).
 */
export async function writeEvent(
  db: pg.Pool | pg.PoolClient,
  origin: string,
  node: string,
  event: OutboxEvent,
  clockOffsetMs: number,
  range?: EventIdRange,
): Promise<Outcome> {
  const { rowCount } = await db.query(
    `INSERT INTO events (id, origin, local_id, node, camera_id, epoch, type, track_id, name, score, at, crop)
     SELECT COALESCE($13::bigint, nextval('events_id_seq')), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
      WHERE $5::bigint IS NULL OR EXISTS (
        SELECT 1 FROM camera_leases l
         WHERE l.camera_id = $4 AND l.epoch = $5
           AND (l.ended_at IS NULL OR l.ended_at > to_timestamp($12::float8 / 1000)))
     ON CONFLICT (origin, local_id) DO NOTHING`,
    [
      origin,
      event.id,
      node,
      event.cameraId,
      event.epoch,
      event.type,
      event.trackId,
      event.name,
      event.score,
      Math.round(event.at),
      event.crop,
      event.at + clockOffsetMs,
      range?.contains(event.id) ? event.id : null,
    ],
  );
  if (rowCount === 1) return 'stored';
  const there = await db.query('SELECT 1 FROM events WHERE origin = $1 AND local_id = $2', [origin, event.id]);
  return there.rowCount === 1 ? 'duplicate' : 'refused';
}

export interface DrainResult {
  stored: number;
  refused: Array<{ cameraId: string; epoch: number | null; at: number }>;
}

/**
 * Copies everything pending, in batches; throws when the database cannot be reached (what was copied before is
 * taken off the outbox, the rest waits).
 */
export async function drain(
  pool: pg.Pool,
  outbox: EventOutbox,
  node: string,
  clockOffsetMs: number,
  range?: EventIdRange,
): Promise<DrainResult> {
  const result: DrainResult = { stored: 0, refused: [] };
  for (;;) {
    const batch = outbox.pending(BATCH);
    if (batch.length === 0) return result;
    for (const event of batch) {
      const outcome = await writeEvent(pool, outbox.origin, node, event, clockOffsetMs, range);
      if (outcome === 'refused') {
        outbox.refused(event.id);
        result.refused.push({ cameraId: event.cameraId, epoch: event.epoch, at: event.at });
      } else {
        outbox.done(event.id);
        if (outcome === 'stored') result.stored++;
      }
    }
  }
}
