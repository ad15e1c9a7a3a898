// Camera leases in the shared database: each camera row has an owner, an epoch (raised at every grant) and
// lease_expires, timed by the database's clock. camera_leases keeps every grant with when it ended, which is what
// fences events (drainer.ts): an event is taken only if its camera's lease under its epoch was still current
// when the event happened.
import type pg from 'pg';
import { notifyChange, transaction } from './database.ts';

/** Camera id → epoch of this node's lease. */
export type Leases = Map<string, number>;

function leasesOf(rows: readonly { id: string; epoch: string }[]): Leases {
  return new Map(rows.map((r) => [r.id, Number(r.epoch)]));
}

/**
 * Extends every lease `owner` still has on an enabled camera (an expired one too, if no other node took it
 * meanwhile: nobody else analysed the camera), and releases those on cameras since disabled.
 */
export async function renew(pool: pg.Pool, owner: string, leaseSeconds: number): Promise<Leases> {
  await release(pool, owner, []);
  const { rows } = await pool.query<{ id: string; epoch: string }>(
    `UPDATE cameras SET lease_expires = now() + make_interval(secs => $2)
      WHERE owner = $1 AND enabled RETURNING id, epoch`,
    [owner, leaseSeconds],
  );
  return leasesOf(rows);
}

/**
 * Claims up to `count` cameras nobody holds (and, when `takeExpired`, those whose lease ran out), each under a new
 * epoch. Rows another node is claiming at the same moment are skipped, not waited for.
 */
export async function claim(
  pool: pg.Pool,
  owner: string,
  count: number,
  leaseSeconds: number,
  takeExpired: boolean,
): Promise<Leases> {
  if (count <= 0) return new Map();
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ id: string; epoch: string }>(
      `WITH picked AS (
         SELECT id FROM cameras
          WHERE enabled AND (owner IS NULL OR ($3 AND lease_expires < now()))
          ORDER BY owner IS NOT NULL, id
          LIMIT $2 FOR UPDATE SKIP LOCKED
       ), ended AS (
         UPDATE camera_leases l SET ended_at = now() FROM picked
          WHERE l.camera_id = picked.id AND l.ended_at IS NULL
       )
       UPDATE cameras c SET owner = $1, epoch = c.epoch + 1, lease_expires = now() + make_interval(secs => $4)
         FROM picked WHERE c.id = picked.id
       RETURNING c.id, c.epoch`,
      [owner, count, takeExpired, leaseSeconds],
    );
    if (rows.length > 0) {
      await client.query(
        `INSERT INTO camera_leases (camera_id, epoch, owner)
         SELECT * FROM unnest($1::text[], $2::bigint[], array_fill($3::text, ARRAY[cardinality($1::text[])]))`,
        [rows.map((r) => r.id), rows.map((r) => r.epoch), owner],
      );
    }
    return leasesOf(rows);
  });
}

/**
 * Gives up `owner`'s leases on `ids` (every one with 'all': a node shutting down) and on any disabled camera:
 * other nodes may claim them at once.
 */
export async function release(pool: pg.Pool, owner: string, ids: readonly string[] | 'all'): Promise<void> {
  const { rowCount } = await pool.query(
    `WITH r AS (
       UPDATE cameras SET owner = NULL, lease_expires = NULL
        WHERE owner = $1 AND ($3 OR id = ANY($2::text[]) OR NOT enabled) RETURNING id, epoch
     )
     UPDATE camera_leases l SET ended_at = now() FROM r
      WHERE l.camera_id = r.id AND l.epoch = r.epoch AND l.ended_at IS NULL`,
    [owner, ids === 'all' ? [] : ids, ids === 'all'],
  );
  if (rowCount) await notifyChange(pool);
}
