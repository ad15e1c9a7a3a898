// Node membership: each node heartbeats its row in cluster_nodes; a node is live while its last heartbeat is
// younger than a lease, by the database's clock. A row belongs to one process at a time: the one whose start
// time (`started_at`, the process's token) it holds. Leases are held by node name, so two live processes under
// one NODE_NAME would both run that node's cameras; the second is refused at its start, and a process whose name
// was taken over while it was frozen or cut off finds out at its next heartbeat.
import type pg from 'pg';
import type { NodeLoad } from './balance.ts';

/** Another live process holds this node name. */
export class NodeNameTaken extends Error {
  override name = 'NodeNameTaken';
}

/** How often `join` looks at a name whose last heartbeat is recent, to tell a live holder from a dead one. */
const JOIN_POLL_MS = 250;

/**
 * Takes the name `name` for this process and returns its token: the row is new, or its last holder has missed a
 * lease's worth of heartbeats (a restart after a crash waits for that, at most a lease). Throws NodeNameTaken when
 * the holder keeps heartbeating.
 */
export async function join(db: pg.Pool, name: string, leaseSeconds: number): Promise<string> {
  const deadline = performance.now() + leaseSeconds * 1000 + 2 * JOIN_POLL_MS;
  let firstBeat: string | undefined;
  for (;;) {
    const taken = await db.query<{ token: string }>(
      `INSERT INTO cluster_nodes (name, started_at, heartbeat_at) VALUES ($1, clock_timestamp(), now())
         ON CONFLICT (name) DO UPDATE SET started_at = clock_timestamp(), heartbeat_at = now()
         WHERE cluster_nodes.heartbeat_at <= now() - make_interval(secs => $2)
       RETURNING started_at::text AS token`,
      [name, leaseSeconds],
    );
    const token = taken.rows[0]?.token;
    if (token !== undefined) return token;
    const holder = await db.query<{ beat: string; age: number }>(
      `SELECT heartbeat_at::text AS beat, extract(epoch from now() - heartbeat_at)::float8 AS age
         FROM cluster_nodes WHERE name = $1`,
      [name],
    );
    const row = holder.rows[0];
    if (row !== undefined) {
      firstBeat ??= row.beat;
      if (row.beat !== firstBeat || performance.now() > deadline) {
        throw new NodeNameTaken(
          `another node is running as ${JSON.stringify(name)} (its last heartbeat ${row.age.toFixed(1)} s ago): ` +
            'give each node its own NODE_NAME',
        );
      }
    }
    await new Promise((r) => setTimeout(r, JOIN_POLL_MS));
  }
}

/**
 * Records that the process holding `token` is alive now (putting its row back if it was pruned). Throws
 * NodeNameTaken when another process has taken the name over meanwhile.
 */
export async function heartbeat(db: pg.Pool | pg.PoolClient, name: string, token: string): Promise<void> {
  const beat = await db.query(
    `INSERT INTO cluster_nodes (name, started_at) VALUES ($1, $2::timestamptz)
       ON CONFLICT (name) DO UPDATE SET heartbeat_at = now() WHERE cluster_nodes.started_at = $2::timestamptz`,
    [name, token],
  );
  if (beat.rowCount !== 1) {
    throw new NodeNameTaken(
      `another process has taken the node name ${JSON.stringify(name)} over (this one was frozen or cut off ` +
        'for longer than a lease): give each node its own NODE_NAME',
    );
  }
}

/** The live nodes with the enabled cameras each holds, and the number of enabled cameras. */
export async function liveNodes(
  db: pg.Pool | pg.PoolClient,
  leaseSeconds: number,
): Promise<{ nodes: NodeLoad[]; total: number }> {
  const nodes = await db.query<{ name: string; held: string }>(
    `SELECT n.name, count(c.id) AS held FROM cluster_nodes n
       LEFT JOIN cameras c ON c.owner = n.name AND c.enabled
      WHERE n.heartbeat_at > now() - make_interval(secs => $1)
      GROUP BY n.name`,
    [leaseSeconds],
  );
  const total = await db.query<{ n: string }>('SELECT count(*) AS n FROM cameras WHERE enabled');
  return {
    nodes: nodes.rows.map((r) => ({ name: r.name, held: Number(r.held) })),
    total: Number(total.rows[0]?.n ?? 0),
  };
}

/** The process holding `token` leaves: its row goes (its cameras are released separately, before). */
export async function leave(db: pg.Pool, name: string, token: string): Promise<void> {
  await db.query('DELETE FROM cluster_nodes WHERE name = $1 AND started_at = $2::timestamptz', [name, token]);
}

/** Rows of nodes gone for a day, holding no camera, are forgotten (a killed node never leaves). */
const FORGET_NODES_AFTER_S = 24 * 60 * 60;
/** Ended leases are kept this long: an event waiting in an outbox is checked against the lease it ran under. */
const FORGET_LEASES_AFTER_S = 30 * 24 * 60 * 60;

/** Forgets long-dead nodes and old lease history; returns how many rows of each went. */
export async function forgetOld(db: pg.Pool): Promise<{ nodes: number; leases: number }> {
  const nodes = await db.query(
    `DELETE FROM cluster_nodes n WHERE n.heartbeat_at < now() - make_interval(secs => $1)
        AND NOT EXISTS (SELECT 1 FROM cameras c WHERE c.owner = n.name)`,
    [FORGET_NODES_AFTER_S],
  );
  const leases = await db.query('DELETE FROM camera_leases WHERE ended_at < now() - make_interval(secs => $1)', [
    FORGET_LEASES_AFTER_S,
  ]);
  return { nodes: nodes.rowCount ?? 0, leases: leases.rowCount ?? 0 };
}
