// Node membership: each node heartbeats its row in cluster_nodes; a node is live while its last heartbeat is
// younger than a lease, by the database's clock.
import type pg from 'pg';
import type { NodeLoad } from './balance.ts';

/** Records that `name` is alive now (inserting its row the first time). */
export async function heartbeat(db: pg.Pool | pg.PoolClient, name: string): Promise<void> {
  await db.query('INSERT INTO cluster_nodes (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET heartbeat_at = now()', [
    name,
  ]);
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

/** The node leaves: its row goes (its cameras are released separately, before). */
export async function leave(db: pg.Pool, name: string): Promise<void> {
  await db.query('DELETE FROM cluster_nodes WHERE name = $1', [name]);
}
