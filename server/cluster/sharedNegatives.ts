// Cluster mode's negative examples ("not this person"). PostgreSQL holds them (facebank_negatives, migration 4);
// each node's NegativeStore keeps a copy under the same ids, so the ids the API lists and deletes are one number on
// every node. As with the photos (sharedFacebank.ts), a write is made here and in PostgreSQL in one transaction
// with the facebank's version bump and NOTIFY, and every node brings its copy in step when the version moves,
// right after the photos (a negative needs its person).
import type pg from 'pg';
import type { Logger } from 'pino';
import { type Facebank, FacebankError, type Negative, type NegativeSource } from '../../facebank/index.ts';
import type { Mutex } from '../../facebank/mutex.ts';
import { validatePersonName } from '../../facebank/names.ts';
import { facebankChanged, transaction } from './database.ts';

/**
 * The shared database numbers its negatives from here on (migration 4). A node's negatives below it are its own,
 * made before it joined: kept and matched on that node only.
 */
export const SHARED_NEGATIVE_IDS_FROM = 2 ** 40;

interface Row {
  id: string;
  person: string;
  event_id: string | null;
  sha256: string | null;
  created_at: string;
}

const COLUMNS = 'id, person, event_id, sha256, created_at';

function toNegative(r: Row): Negative {
  return {
    id: Number(r.id),
    person: r.person,
    source: r.event_id !== null ? { kind: 'event', eventId: Number(r.event_id) } : { kind: 'image', sha256: r.sha256! },
    createdAt: Number(r.created_at),
  };
}

const sourceParams = (s: NegativeSource) => [
  s.kind === 'event' ? s.eventId : null,
  s.kind === 'image' ? s.sha256 : null,
];

/**
 * Stores a negative, numbered and dated by the database; undefined when the person already has one from that
 * source (rejected before, on any node: `findNegative` has it).
 */
async function insertNegative(
  db: pg.PoolClient,
  person: string,
  modelId: string,
  embedding: Float32Array,
  source: NegativeSource,
): Promise<Negative | undefined> {
  const { rows } = await db.query<Row>(
    `INSERT INTO facebank_negatives (person, model_id, embedding, event_id, sha256) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`,
    [
      person,
      modelId,
      Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength),
      ...sourceParams(source),
    ],
  );
  return rows[0] && toNegative(rows[0]);
}

async function findNegative(
  db: pg.PoolClient,
  person: string,
  modelId: string,
  source: NegativeSource,
): Promise<Negative | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM facebank_negatives
      WHERE person = $1 AND model_id = $2 AND (event_id = $3 OR sha256 = $4)`,
    [person, modelId, ...sourceParams(source)],
  );
  return rows[0] && toNegative(rows[0]);
}

/** Whether the negative was there. */
async function deleteNegative(db: pg.PoolClient, person: string, id: number): Promise<boolean> {
  return (await db.query('DELETE FROM facebank_negatives WHERE person = $1 AND id = $2', [person, id])).rowCount === 1;
}

/** The person's negatives go with them to their new name (replacing any the new name had); how many moved. */
export async function renameNegatives(db: pg.PoolClient, from: string, to: string): Promise<number> {
  const dropped = await db.query('DELETE FROM facebank_negatives WHERE person = $1', [to]);
  const moved = await db.query('UPDATE facebank_negatives SET person = $2 WHERE person = $1', [from, to]);
  return (dropped.rowCount ?? 0) + (moved.rowCount ?? 0);
}

/** How many the person had. */
export async function deletePersonNegatives(db: pg.PoolClient, person: string): Promise<number> {
  return (await db.query('DELETE FROM facebank_negatives WHERE person = $1', [person])).rowCount ?? 0;
}

/** Every negative of the embedder `modelId`, without embeddings. */
async function readNegatives(db: pg.Pool, modelId: string): Promise<Negative[]> {
  const { rows } = await db.query<Row>(`SELECT ${COLUMNS} FROM facebank_negatives WHERE model_id = $1`, [modelId]);
  return rows.map(toNegative);
}

/** The embeddings of these negatives (little-endian float32, as each node stores them). */
async function negativeEmbeddings(db: pg.Pool, ids: readonly number[]): Promise<Map<number, Float32Array>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; embedding: Buffer }>(
    'SELECT id, embedding FROM facebank_negatives WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return new Map(
    rows.map((r) => {
      const e = new Float32Array(r.embedding.byteLength / 4);
      new Uint8Array(e.buffer).set(r.embedding);
      return [Number(r.id), e];
    }),
  );
}

/** What brings a node's negatives in step with the shared database's. */
export interface NegativesPlan {
  /** Removed elsewhere (or renamed: they come back under the new name), or left by a write that was undone. */
  remove: Negative[];
  /** Added elsewhere (their embeddings are read once the plan is known). */
  add: Negative[];
  /** The node's own negatives from before it joined. */
  localOnly: number;
}

const sameSource = (a: NegativeSource, b: NegativeSource) =>
  a.kind === 'event' ? b.kind === 'event' && a.eventId === b.eventId : b.kind === 'image' && a.sha256 === b.sha256;

/**
 * `local`: the node's negatives; `shared`: the database's. A shared negative is added only for a person the node
 * has (`present`): the people's photos are brought in step first, and one the node could not enrol has no name to
 * veto.
 */
export function planNegatives(
  local: readonly Negative[],
  shared: readonly Negative[],
  present: (person: string) => boolean,
): NegativesPlan {
  const byId = new Map(shared.map((n) => [n.id, n]));
  const remove: Negative[] = [];
  const kept = new Set<number>();
  let localOnly = 0;
  for (const n of local) {
    if (n.id < SHARED_NEGATIVE_IDS_FROM) {
      localOnly++;
      continue;
    }
    const s = byId.get(n.id);
    if (s !== undefined && s.person === n.person && sameSource(s.source, n.source)) kept.add(n.id);
    else remove.push(n);
  }
  const add = shared.filter((s) => !kept.has(s.id) && present(s.person));
  return { remove, add, localOnly };
}

/** What the sync needs of the node's facebank. */
type LocalNegatives = Pick<
  Facebank,
  'people' | 'modelId' | 'negatives' | 'everyNegative' | 'addNegative' | 'removeNegative'
>;

export class SharedNegatives {
  /** The node's own negatives from before it joined, as last counted (warned about when the count changes). */
  private unshared = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly local: LocalNegatives,
    private readonly logger: Logger,
    /** SharedFacebank's: writes and syncs take turns. */
    private readonly mutex: Mutex,
    /** After a write: brings this node in step at once (its own notification does too, unless reconnecting). */
    private readonly resync: () => void,
  ) {}

  /**
   * "Not this person", on every node: stored in PostgreSQL, which numbers it, and here under that number, in one
   * transaction. A face the person already has a negative of (from the same event or image, rejected on any node)
   * gives that one back, as on a single node.
   */
  add(
    name: string,
    embedding: Float32Array,
    source: NegativeSource,
  ): Promise<{ negative: Negative; created: boolean }> {
    return this.mutex.run(async () => {
      const person = validatePersonName(name);
      let added: Negative | undefined;
      try {
        return await transaction(this.pool, async (client) => {
          const stored = await insertNegative(client, person, this.local.modelId, embedding, source);
          if (stored === undefined) {
            // This node may not hold it yet: the sync brings it, under the same id.
            const there = await findNegative(client, person, this.local.modelId, source);
            if (there === undefined) throw new Error('a negative example was removed while it was being added');
            this.local.negatives(person); // person_not_found here as on a single node
            return { negative: there, created: false };
          }
          const local = await this.local.addNegative(person, embedding, source, stored);
          added = local.negative;
          await facebankChanged(client);
          return { negative: local.negative, created: true };
        });
      } catch (err) {
        if (added !== undefined) {
          const id = added.id;
          await this.local
            .removeNegative(person, id)
            .catch((undo: unknown) =>
              this.logger.error(
                { err: (undo as Error).message, person, id },
                'cluster: could not undo a negative example',
              ),
            );
        }
        throw err;
      } finally {
        this.resync();
      }
    });
  }

  remove(name: string, id: number): Promise<void> {
    return this.mutex.run(async () => {
      const person = validatePersonName(name);
      await transaction(this.pool, async (client) => {
        const removed = await deleteNegative(client, person, id);
        if (removed) await facebankChanged(client);
        try {
          // Last, so that its failure rolls the database back (a commit failing after it: the sync puts it back).
          await this.local.removeNegative(person, id);
        } catch (err) {
          // One this node does not hold yet is removed all the same.
          if (!(removed && err instanceof FacebankError)) throw err;
        }
      });
      this.resync();
    });
  }
  /**
   * Brings the node's negatives in step with PostgreSQL's. Run by SharedFacebank's sync, under the mutex, once the
   * people's photos are in step.
   */
  async apply(): Promise<void> {
    const shared = await readNegatives(this.pool, this.local.modelId);
    const people = new Set(this.local.people().map((p) => p.name));
    const plan = planNegatives(this.local.everyNegative(), shared, (person) => people.has(person));
    for (const n of plan.remove) await this.local.removeNegative(n.person, n.id);
    const embeddings = await negativeEmbeddings(
      this.pool,
      plan.add.map((n) => n.id),
    );
    let added = 0;
    for (const n of plan.add) {
      const embedding = embeddings.get(n.id);
      if (embedding === undefined) continue; // removed meanwhile: the next sync sees it
      try {
        await this.local.addNegative(n.person, embedding, n.source, n);
        added++;
      } catch (err) {
        // Tried again at the next change of the facebank.
        this.logger.warn(
          { person: n.person, id: n.id, err: (err as Error).message },
          'cluster: a shared negative example cannot be stored on this node',
        );
      }
    }
    if (added + plan.remove.length > 0) {
      this.logger.info(
        { added, removed: plan.remove.length },
        `cluster: negative examples in step: ${added} added, ${plan.remove.length} removed`,
      );
    }
    if (plan.localOnly !== this.unshared && plan.localOnly > 0) {
      this.logger.warn(
        { negatives: plan.localOnly },
        `cluster: ${plan.localOnly} negative examples of this node's from before it joined are not in the shared database and are matched on this node only`,
      );
    }
    this.unshared = plan.localOnly;
  }
}
