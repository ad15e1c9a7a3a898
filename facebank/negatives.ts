// Negative examples ("not this person"): faces a user said are not a given person. After the matcher names a
// candidate, a face that is the same face as one of the candidate's negatives is not given that name. Kept in
// the shared SQLite database by (person, model id), like the embeddings cache: another embedder ignores them.
import type { Database, Statement } from 'better-sqlite3';
import type { Veto } from './types.ts';

/**
 * Cosine at or above which two embeddings are taken to be the same face, for vetoes and for grouping unknown
 * visits. Measured on LFW pairsDevTrain (scripts/measure-same-face.ts, flip off, as the server embeds): same
 * person pairs median 0.761, 5th percentile 0.547; different people 99th percentile 0.363, max 0.469. At 0.5,
 * 97.5% of same pairs reach it and none of the 1,100 different pairs does (0.45: 98.7% and 1; 0.55: 94.7% and 0).
 */
export const SAME_FACE_BOUND = 0.5;

export type NegativeSource = { kind: 'event'; eventId: number } | { kind: 'image'; sha256: string };

/** A negative as a shared database numbered and dated it (cluster mode): stored here under that id. */
export interface GivenNegative {
  id: number;
  createdAt: number;
}

export interface Negative {
  id: number;
  person: string;
  source: NegativeSource;
  /** Epoch milliseconds. */
  createdAt: number;
}

/** Idempotent. Embeddings are little-endian float32 like facebank_analyses. */
export const NEGATIVES_SCHEMA = `
CREATE TABLE IF NOT EXISTS facebank_negatives (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  person     TEXT    NOT NULL,
  model_id   TEXT    NOT NULL,
  embedding  BLOB    NOT NULL,
  event_id   INTEGER,
  sha256     TEXT,
  created_at INTEGER NOT NULL,
  CHECK ((event_id IS NULL) <> (sha256 IS NULL))
);
CREATE INDEX IF NOT EXISTS facebank_negatives_person ON facebank_negatives (person, model_id);
CREATE TABLE IF NOT EXISTS facebank_negatives_renames (
  from_person TEXT NOT NULL,
  to_person   TEXT NOT NULL,
  PRIMARY KEY (from_person, to_person)
) WITHOUT ROWID;
`;

interface Row {
  id: number;
  person: string;
  embedding: Buffer;
  event_id: number | null;
  sha256: string | null;
  created_at: number;
}

function fromBlob(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

interface Held {
  negative: Negative;
  embedding: Float32Array;
}

function toNegative(r: Row): Negative {
  return {
    id: r.id,
    person: r.person,
    source: r.event_id !== null ? { kind: 'event', eventId: r.event_id } : { kind: 'image', sha256: r.sha256! },
    createdAt: r.created_at,
  };
}

/** The negatives of one model id, all held in memory (they are few: one per click). */
export class NegativeStore {
  private readonly byPerson = new Map<string, Held[]>();
  private readonly insert: Statement<[number | null, string, string, Buffer, number | null, string | null, number]>;
  private readonly deleteOne: Statement<[number, string, string]>;
  private readonly deletePerson: Statement<[string, string]>;
  private readonly rename: Statement<[string, string, string]>;
  private readonly notePending: Statement<[string, string]>;
  private readonly clearPending: Statement<[string, string]>;
  private readonly pending: Statement<[], { from_person: string; to_person: string }>;

  constructor(
    private readonly db: Database,
    readonly modelId: string,
  ) {
    db.exec(NEGATIVES_SCHEMA);
    this.insert = db.prepare(
      'INSERT INTO facebank_negatives (id, person, model_id, embedding, event_id, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.deleteOne = db.prepare('DELETE FROM facebank_negatives WHERE id = ? AND person = ? AND model_id = ?');
    this.deletePerson = db.prepare('DELETE FROM facebank_negatives WHERE person = ? AND model_id = ?');
    this.rename = db.prepare('UPDATE facebank_negatives SET person = ? WHERE person = ? AND model_id = ?');
    this.notePending = db.prepare(
      'INSERT OR IGNORE INTO facebank_negatives_renames (from_person, to_person) VALUES (?, ?)',
    );
    this.clearPending = db.prepare('DELETE FROM facebank_negatives_renames WHERE from_person = ? AND to_person = ?');
    this.pending = db.prepare('SELECT from_person, to_person FROM facebank_negatives_renames');
    const rows = db
      .prepare<[string], Row>(
        'SELECT id, person, embedding, event_id, sha256, created_at FROM facebank_negatives WHERE model_id = ? ORDER BY id',
      )
      .all(modelId);
    for (const r of rows) this.hold({ negative: toNegative(r), embedding: fromBlob(r.embedding) });
  }

  /** The person's negatives, oldest first. */
  list(person: string): Negative[] {
    return (this.byPerson.get(person) ?? []).map((h) => h.negative);
  }

  /** People who have negatives. */
  people(): string[] {
    return [...this.byPerson.keys()];
  }

  /**
   * Stores a negative; an event already rejected for this person returns the existing one. `given`: the id and time
   * the shared database gave it (cluster mode), which replace a negative of this node's own for the same face.
   */
  add(
    person: string,
    embedding: Float32Array,
    source: NegativeSource,
    given?: GivenNegative,
  ): { negative: Negative; created: boolean } {
    const same = this.byPerson
      .get(person)
      ?.find((h) =>
        source.kind === 'event'
          ? h.negative.source.kind === 'event' && h.negative.source.eventId === source.eventId
          : h.negative.source.kind === 'image' && h.negative.source.sha256 === source.sha256,
      );
    if (same !== undefined && (given === undefined || same.negative.id === given.id)) {
      return { negative: same.negative, created: false };
    }
    const createdAt = given?.createdAt ?? Date.now();
    const negative = this.db.transaction(() => {
      if (same !== undefined) this.deleteOne.run(same.negative.id, person, this.modelId);
      const info = this.insert.run(
        given?.id ?? null,
        person,
        this.modelId,
        Buffer.from(embedding.buffer, embedding.byteOffset, embedding.byteLength),
        source.kind === 'event' ? source.eventId : null,
        source.kind === 'image' ? source.sha256 : null,
        createdAt,
      );
      return { id: Number(info.lastInsertRowid), person, source, createdAt } satisfies Negative;
    })();
    if (same !== undefined) this.forget(person, same.negative.id);
    this.hold({ negative, embedding: Float32Array.from(embedding) });
    return { negative, created: true };
  }

  /** Every person's negatives. */
  all(): Negative[] {
    return [...this.byPerson.values()].flatMap((held) => held.map((h) => h.negative));
  }

  /** Undo: whether the negative existed. */
  remove(person: string, id: number): boolean {
    if (!this.byPerson.get(person)?.some((h) => h.negative.id === id)) return false;
    this.deleteOne.run(id, person, this.modelId);
    this.forget(person, id);
    return true;
  }

  /** Forgets the person's negatives, in memory even when the database cannot be written (the next scan retries). */
  removePerson(person: string): void {
    try {
      this.deletePerson.run(person, this.modelId);
    } finally {
      this.byPerson.delete(person);
    }
  }

  /**
   * Notes a rename about to happen on disk. The folder's rename and the negatives' cannot be one transaction: if
   * the process dies between the two, `recoverRenames` at the next start finishes the rename whose folder moved,
   * instead of the negatives being dropped as those of a person who is gone.
   */
  beginRename(from: string, to: string): void {
    this.notePending.run(from, to);
  }

  renamePerson(from: string, to: string): void {
    this.db.transaction(() => this.renameRows(from, to))();
    this.renameHeld(from, to);
  }

  /** The database half of renamePerson, for a caller's transaction; renameHeld once that has committed. */
  renameRows(from: string, to: string): void {
    this.deletePerson.run(to, this.modelId);
    this.rename.run(to, from, this.modelId);
    this.clearPending.run(from, to);
  }

  renameHeld(from: string, to: string): void {
    const held = this.byPerson.get(from);
    this.byPerson.delete(to);
    this.byPerson.delete(from);
    if (held !== undefined) {
      for (const h of held) h.negative = { ...h.negative, person: to };
      this.byPerson.set(to, held);
    }
  }

  /** Finishes the renames begun whose folder moved (`present`: who has a folder now) and forgets the others. */
  recoverRenames(present: (person: string) => boolean): void {
    for (const { from_person: from, to_person: to } of this.pending.all()) {
      if (!present(from) && present(to)) this.renamePerson(from, to);
      else this.clearPending.run(from, to);
    }
  }

  /**
   * Whether `embedding` must not be named `person`: it is the same face as one of the person's negatives (cosine
   * at or above SAME_FACE_BOUND) and closer to that negative than to any of the person's own templates, so a
   * negative of a look-alike never hides the person's own faces.
   */
  veto(person: string, embedding: Float32Array, templates: readonly Float32Array[]): Veto | undefined {
    const held = this.byPerson.get(person);
    if (held === undefined) return undefined;
    let best: Held | undefined;
    let bestSim = Number.NEGATIVE_INFINITY;
    for (const h of held) {
      if (h.embedding.length !== embedding.length) continue;
      const s = dot(h.embedding, embedding);
      if (s > bestSim) {
        bestSim = s;
        best = h;
      }
    }
    if (best === undefined || bestSim < SAME_FACE_BOUND) return undefined;
    let own = Number.NEGATIVE_INFINITY;
    for (const t of templates) if (t.length === embedding.length) own = Math.max(own, dot(t, embedding));
    if (own >= bestSim) return undefined;
    return { person, negativeId: best.negative.id, similarity: bestSim, personSimilarity: own };
  }

  private forget(person: string, id: number): void {
    const held = this.byPerson.get(person);
    const i = held?.findIndex((h) => h.negative.id === id) ?? -1;
    if (held === undefined || i < 0) return;
    held.splice(i, 1);
    if (held.length === 0) this.byPerson.delete(person);
  }

  private hold(h: Held): void {
    const list = this.byPerson.get(h.negative.person);
    if (list === undefined) this.byPerson.set(h.negative.person, [h]);
    else list.push(h);
  }
}
