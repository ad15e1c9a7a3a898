// What /api/health says of the cluster (the OpenAPI document is built from these schemas): the nodes the shared
// database knows with their heartbeats, and who holds each camera under which epoch. Read from the database on
// each request, so any node shows the same picture; a database that does not answer soon gives `reachable: false`
// rather than a health check that hangs.
import type pg from 'pg';
import { z } from 'zod';

/** /api/health waits this long for the database before answering without the cluster's picture. */
const STATUS_TIMEOUT_MS = 1000;

const ClusterNodeStatus = z
  .object({
    name: z.string(),
    heartbeatAgeMs: z.number().meta({ description: "since the node's last heartbeat, by the database's clock" }),
    alive: z.boolean().meta({ description: 'its last heartbeat is younger than a lease' }),
    cameras: z.number().meta({ description: 'enabled cameras it holds a lease on' }),
  })
  .meta({ id: 'ClusterNodeStatus' });

const ClusterCameraStatus = z
  .object({
    id: z.string(),
    owner: z.string().nullable().meta({ description: 'the node holding its lease; null: nobody' }),
    epoch: z.number().meta({ description: 'raised at every grant of its lease' }),
    lease: z.enum(['held', 'expired', 'free', 'disabled']).meta({
      description:
        'held: renewed in time; expired: its owner missed its renewals (another node takes it); free: no owner',
    }),
    leaseRemainingMs: z.number().optional().meta({ description: 'until the lease ends without renewal (held only)' }),
  })
  .meta({ id: 'ClusterCameraStatus' });

export const ClusterHealth = z
  .union([
    z.object({ enabled: z.literal(false) }),
    z.object({
      enabled: z.literal(true),
      node: z.string().meta({ description: "this node's name (NODE_NAME)" }),
      leaseSeconds: z.number(),
      reachable: z.boolean().meta({ description: 'the shared database answered this request' }),
      error: z.string().optional(),
      nodes: z.array(ClusterNodeStatus),
      cameras: z.array(ClusterCameraStatus),
    }),
  ])
  .meta({ id: 'ClusterHealth', description: 'cluster mode (README: Running several nodes); off without DATABASE_URL' });
export type ClusterHealth = z.infer<typeof ClusterHealth>;

type ClusterStatus = Extract<ClusterHealth, { enabled: true }>;
type Reading = Omit<ClusterStatus, 'enabled' | 'node' | 'leaseSeconds' | 'reachable' | 'error'>;

/** Reads the nodes and the leases; throws when the database cannot be reached. */
export async function readClusterStatus(pool: pg.Pool, leaseSeconds: number): Promise<Reading> {
  const nodes = await pool.query<{ name: string; age: number; held: string }>(
    `SELECT n.name, (extract(epoch FROM now() - n.heartbeat_at) * 1000)::float8 AS age, count(c.id) AS held
       FROM cluster_nodes n LEFT JOIN cameras c ON c.owner = n.name AND c.enabled
      GROUP BY n.name ORDER BY n.name`,
  );
  const cameras = await pool.query<{
    id: string;
    owner: string | null;
    epoch: string;
    enabled: boolean;
    remaining: number | null;
  }>(
    `SELECT id, owner, epoch, enabled, (extract(epoch FROM lease_expires - now()) * 1000)::float8 AS remaining
       FROM cameras ORDER BY id`,
  );
  return {
    nodes: nodes.rows.map((r) => ({
      name: r.name,
      heartbeatAgeMs: Math.max(0, Math.round(r.age)),
      alive: r.age < leaseSeconds * 1000,
      cameras: Number(r.held),
    })),
    cameras: cameras.rows.map((r) => {
      const lease = !r.enabled ? 'disabled' : r.owner === null ? 'free' : (r.remaining ?? 0) > 0 ? 'held' : 'expired';
      return {
        id: r.id,
        owner: r.owner,
        epoch: Number(r.epoch),
        lease,
        ...(lease === 'held' ? { leaseRemainingMs: Math.round(r.remaining ?? 0) } : {}),
      } as const;
    }),
  };
}

/** `reading` as /api/health shows it, or `reachable: false` if it fails or takes over STATUS_TIMEOUT_MS. */
export async function statusWithin(
  reading: Promise<Reading>,
  node: string,
  leaseSeconds: number,
): Promise<ClusterStatus> {
  const base = { enabled: true as const, node, leaseSeconds };
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = await Promise.race([
      reading,
      new Promise<never>((_, fail) => {
        timer = setTimeout(() => fail(new Error(`no answer within ${STATUS_TIMEOUT_MS} ms`)), STATUS_TIMEOUT_MS);
      }),
    ]);
    return { ...base, reachable: true, ...read };
  } catch (err) {
    return { ...base, reachable: false, error: (err as Error).message, nodes: [], cameras: [] };
  } finally {
    clearTimeout(timer);
  }
}
