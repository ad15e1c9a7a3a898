// Event ids that are the same on every node (cluster mode). Each node's SQLite file (its outbox origin) is given
// an ordinal by the shared database, and its events are numbered from ordinal × SPAN on: the id a dashboard gets
// live, the one an integration sends, and the one GET /api/events lists are one number, whichever node analysed
// the camera and whichever node is asked. Ids stay JavaScript-safe integers (below 2^53).
import type pg from 'pg';

/** Ids per ordinal: 2^36, about 69 billion events (20 years at 100 events a second). */
export const EVENT_ID_SPAN = 2 ** 36;
/** The largest ordinal whose ids stay below 2^53. */
export const MAX_ORDINAL = 2 ** (53 - 36) - 1;

/** The ids one origin numbers its events with: (base, base + SPAN). */
export class EventIdRange {
  readonly base: number;
  constructor(readonly ordinal: number) {
    if (!Number.isInteger(ordinal) || ordinal < 1 || ordinal > MAX_ORDINAL) {
      throw new Error(`event id ordinal must be 1..${MAX_ORDINAL}; got ${ordinal}`);
    }
    this.base = ordinal * EVENT_ID_SPAN;
  }

  contains(id: number): boolean {
    return id > this.base && id < this.base + EVENT_ID_SPAN;
  }
}

/** Any 64-bit number of our own: nodes starting together take turns for an ordinal. */
const ORDINAL_LOCK = 7_140_514_002;

/**
 * The range of `origin`, whose last event id so far is `lastId`. An origin keeps its ordinal across restarts. A
 * new one (a new SQLite file, or a shared database that was replaced) gets the next ordinal above both every other
 * origin's and its own old ids, so its new ids never meet ids handed out before.
 */
export async function registerOrigin(pool: pg.Pool, origin: string, lastId: number): Promise<EventIdRange> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [ORDINAL_LOCK]);
    const known = await client.query<{ ordinal: number }>('SELECT ordinal FROM event_origins WHERE origin = $1', [
      origin,
    ]);
    let ordinal = known.rows[0]?.ordinal;
    if (ordinal === undefined) {
      const top = await client.query<{ ordinal: number | null }>('SELECT MAX(ordinal) AS ordinal FROM event_origins');
      ordinal = Math.max((top.rows[0]?.ordinal ?? 0) + 1, Math.floor(lastId / EVENT_ID_SPAN) + 1);
      if (ordinal > MAX_ORDINAL) {
        throw new Error(`no event id range left: ${MAX_ORDINAL} node databases have joined this shared database`);
      }
      await client.query('INSERT INTO event_origins (ordinal, origin) VALUES ($1, $2)', [ordinal, origin]);
    }
    const range = new EventIdRange(ordinal);
    if (lastId >= range.base + EVENT_ID_SPAN - 1) {
      throw new Error(`this node's event ids (up to ${lastId}) have run past their range (${range.base}…)`);
    }
    return range;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ORDINAL_LOCK]).catch(() => undefined);
    client.release();
  }
}
