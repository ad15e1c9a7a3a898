// The connection pool to the shared PostgreSQL database. Its errors never crash the node: a connection lost in
// an outage is dropped and the next query opens a new one; queries that hang give up, so the lease loop and the
// drainer carry on trying.
import pg from 'pg';
import type { Logger } from 'pino';
import { redactUrl } from '../../streams/sources/credentials.ts';

const CONNECT_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 5000;

export function openPool(url: string, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 10_000,
  });
  // An idle client whose server went away: pg emits this on the pool; without a listener it would be thrown.
  pool.on('error', (err) => logger.debug({ err: err.message, database: redactUrl(url) }, 'database connection lost'));
  return pool;
}

/** A transaction on one pooled client: committed when `work` resolves, rolled back when it throws. */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('BEGIN');
    const out = await work(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * The channel nodes LISTEN on: a camera given up, added, changed or removed. A node told acts at once instead of
 * at its next round; a notification missed (while reconnecting) only delays it to that round.
 */
export const CHANGES_CHANNEL = 'facerec_cluster';

export async function notifyChange(db: pg.Pool | pg.PoolClient): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, '']);
}

/** The channel that tells the nodes the facebank changed (photos or negative examples). */
export const FACEBANK_CHANNEL = 'facerec_facebank';

/** Bumps the facebank's version and notifies every node (on commit); run in the transaction that changed it. */
export async function facebankChanged(db: pg.PoolClient): Promise<void> {
  await db.query('UPDATE facebank_version SET version = version + 1');
  await db.query('SELECT pg_notify($1, $2)', [FACEBANK_CHANNEL, '']);
}

/**
 * A connection LISTENing on `channel`, opened in the background. `onLost(client)` is called when it fails or ends:
 * the caller forgets it and opens another at its next round (notifications meanwhile are lost, not replayed).
 */
export function listenOn(
  url: string,
  channel: string,
  onNotify: () => void,
  onLost: (client: pg.Client) => void,
): pg.Client {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  const lost = () => {
    onLost(client);
    client.end().catch(() => undefined);
  };
  client.on('error', lost);
  client.on('end', lost);
  client.on('notification', onNotify);
  client
    .connect()
    .then(() => client.query(`LISTEN ${channel}`))
    .catch(lost);
  return client;
}
