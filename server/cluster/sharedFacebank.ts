// Cluster mode's facebank. PostgreSQL holds every person's photos (the source of truth); each node's people folder
// is a copy that the node keeps in step through its facebank's own calls (addImage, removeImage, deletePerson),
// which analyse, write crash-safely and rebuild the matcher as for any enrolment; no file watcher is involved.
//
// A write through the API on any node is made on the local facebank (which judges the photo) inside a PostgreSQL
// transaction that also bumps the version and NOTIFYs: if either side fails, the other is undone, so nothing
// half-done is visible and an answered write is in PostgreSQL. Every node then applies the difference. A node
// also polls the version, since a notification sent while it reconnects is never replayed.
//
// Negative examples ("not this person") are shared the same way (sharedNegatives.ts): written here and in
// PostgreSQL together, under PostgreSQL's id, and applied on every node after the photos.
//
// Which of the node's photos came from the shared database is recorded in its SQLite (cluster_facebank_synced):
// a photo recorded there that PostgreSQL no longer has was removed by another node and is removed here too, even
// after a restart. A photo never shared (in the folder before cluster mode, or left by a crash between the two
// commits) is kept and matched on this node only, with a warning: `facerec facebank import` shares it.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  type Facebank,
  FacebankError,
  type FacebankImage,
  type Negative,
  type NegativeSource,
  type PersonSummary,
} from '../../facebank/index.ts';
import { Mutex } from '../../facebank/mutex.ts';
import { sha256Hex } from '../../facebank/scan.ts';
import { FACEBANK_CHANNEL, facebankChanged, listenOn, transaction } from './database.ts';
import { deletePersonNegatives, renameNegatives, SharedNegatives } from './sharedNegatives.ts';

/** The facebank writes the HTTP API makes; in cluster mode they go through SharedFacebank. */
export type FacebankWrites = Pick<
  Facebank,
  | 'createPerson'
  | 'addImage'
  | 'removeImage'
  | 'renamePerson'
  | 'deletePerson'
  | 'addNegative'
  | 'addNegativeImage'
  | 'removeNegative'
>;

/** What a node needs of its facebank to keep it in step. */
type LocalFacebank = FacebankWrites &
  Pick<Facebank, 'people' | 'person' | 'modelId' | 'negatives' | 'everyNegative' | 'imageNegative'>;

/** How often the version is looked at when no notification came. */
const POLL_MS = 1000;

const LOCAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS cluster_facebank_synced (
  person TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (person, sha256)
) WITHOUT ROWID;`;

type Photos = Map<string, Map<string, string>>; // person → sha256 → file

const key = (person: string, sha256: string) => `${person}\u0000${sha256}`;

function localPhotos(people: PersonSummary[]): Photos {
  return new Map(people.map((p) => [p.name, new Map(p.images.map((i) => [i.sha256, i.file]))]));
}

/** Adds a photo (no-op when the person has that content); true when added. */
export async function insertPhoto(
  db: pg.PoolClient,
  person: string,
  file: string,
  bytes: Uint8Array,
): Promise<boolean> {
  const res = await db.query(
    'INSERT INTO facebank_photos (person, sha256, file, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [person, sha256Hex(bytes), file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
  );
  return res.rowCount === 1;
}

export class SharedFacebank implements FacebankWrites {
  private readonly mutex = new Mutex();
  private version: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private stopped = false;
  /** Photos this node refused to enrol (person + sha256): not tried again until the next start. */
  private readonly refused = new Set<string>();
  private unshared = 0;
  private readonly negatives: SharedNegatives;
  private syncing: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly databaseUrl: string,
    private readonly local: LocalFacebank,
    private readonly db: Database.Database,
    private readonly logger: Logger,
  ) {
    db.exec(LOCAL_SCHEMA);
    this.negatives = new SharedNegatives(pool, local, logger, this.mutex, () => this.resync());
  }

  /** Brings the folder in step once (before the node serves), then follows changes. */
  async start(): Promise<void> {
    await this.sync();
    this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.syncing?.catch(() => undefined);
    await this.mutex.idle();
  }

  /** A person is shared from their first photo: an empty one stays on this node. */
  createPerson(name: string): Promise<PersonSummary> {
    return this.local.createPerson(name);
  }

  addImage(person: string, bytes: Uint8Array, originalName?: string): Promise<FacebankImage> {
    return this.mutex.run(async () => {
      const sha256 = sha256Hex(bytes);
      // Content the person already has is not written again (addImage returns it): not to be undone either.
      let had = false;
      try {
        had = this.local.person(person).images.some((i) => i.sha256 === sha256);
      } catch {
        // a new person (or an invalid name, which addImage reports)
      }
      let image: FacebankImage | undefined;
      try {
        return await transaction(this.pool, async (client) => {
          image = await this.local.addImage(person, bytes, originalName);
          if (await insertPhoto(client, image.person, image.file, bytes)) await facebankChanged(client);
          return image;
        });
      } catch (err) {
        if (image !== undefined && !had) await this.undo(() => this.local.removeImage(image!.person, image!.file));
        throw err;
      } finally {
        this.resync();
      }
    });
  }

  removeImage(person: string, file: string): Promise<void> {
    return this.mutex.run(async () => {
      const image = this.local.person(person).images.find((i) => i.file === file);
      await transaction(this.pool, async (client) => {
        if (image !== undefined) {
          const res = await client.query('DELETE FROM facebank_photos WHERE person = $1 AND sha256 = $2', [
            image.person,
            image.sha256,
          ]);
          if (res.rowCount) await facebankChanged(client);
        }
        // Last, so that its failure (e.g. image_not_found) rolls the database back. Should the commit fail after
        // it, the photo comes back from PostgreSQL at the next sync: the removal was not acknowledged.
        await this.local.removeImage(person, file);
      });
      this.resync();
    });
  }

  renamePerson(from: string, to: string): Promise<PersonSummary> {
    return this.mutex.run(async () => {
      let renamed: PersonSummary | undefined;
      try {
        return await transaction(this.pool, async (client) => {
          if (from !== to) {
            const taken = await client.query('SELECT 1 FROM facebank_photos WHERE person = $1 LIMIT 1', [to]);
            if (taken.rowCount) throw new FacebankError('person_exists', `person ${JSON.stringify(to)} exists`);
            const res = await client.query('UPDATE facebank_photos SET person = $2 WHERE person = $1', [from, to]);
            const negatives = await renameNegatives(client, from, to);
            if (res.rowCount || negatives > 0) await facebankChanged(client);
          }
          renamed = await this.local.renamePerson(from, to);
          return renamed;
        });
      } catch (err) {
        if (renamed !== undefined && from !== to) await this.undo(() => this.local.renamePerson(to, from));
        throw err;
      } finally {
        this.resync();
      }
    });
  }

  deletePerson(name: string): Promise<void> {
    return this.mutex.run(async () => {
      await transaction(this.pool, async (client) => {
        const res = await client.query('DELETE FROM facebank_photos WHERE person = $1', [name]);
        const negatives = await deletePersonNegatives(client, name);
        if (res.rowCount || negatives > 0) await facebankChanged(client);
        // A commit failing after this: the photos come back from PostgreSQL at the next sync (not acknowledged).
        // A person whose photos have not reached this node yet is deleted all the same.
        const here = this.local.people().some((p) => p.name === name);
        if (here || !res.rowCount) await this.local.deletePerson(name);
      });
      this.resync();
    });
  }

  addNegative(
    name: string,
    embedding: Float32Array,
    source: NegativeSource,
  ): Promise<{ negative: Negative; created: boolean }> {
    return this.negatives.add(name, embedding, source);
  }

  async addNegativeImage(name: string, bytes: Uint8Array): Promise<{ negative: Negative; created: boolean }> {
    const { person, embedding, source } = await this.local.imageNegative(name, bytes);
    return this.negatives.add(person, embedding, source);
  }

  removeNegative(name: string, id: number): Promise<void> {
    return this.negatives.remove(name, id);
  }

  /** Applies PostgreSQL's photos to the folder now (calls made meanwhile share the next run). */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        await this.mutex.run(() => this.apply());
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async apply(): Promise<void> {
    const started = performance.now();
    let added = 0;
    let removed = 0;
    const version = (await this.pool.query<{ version: string }>('SELECT version FROM facebank_version')).rows[0]
      ?.version;
    const rows = (
      await this.pool.query<{ person: string; sha256: string; file: string }>(
        'SELECT person, sha256, file FROM facebank_photos',
      )
    ).rows;
    const shared: Photos = new Map();
    for (const r of rows) shared.set(r.person, (shared.get(r.person) ?? new Map()).set(r.sha256, r.file));
    const local = localPhotos(this.local.people());
    const synced = new Set(
      this.db
        .prepare<[], { person: string; sha256: string }>('SELECT person, sha256 FROM cluster_facebank_synced')
        .all()
        .map((r) => key(r.person, r.sha256)),
    );
    let complete = true;
    // Removed elsewhere: what came from PostgreSQL and is no longer there.
    for (const [person, photos] of local) {
      const there = shared.get(person);
      const gone = [...photos].filter(([sha]) => !there?.has(sha) && synced.has(key(person, sha)));
      if (gone.length === 0) continue;
      if (gone.length === photos.size && there === undefined) {
        await this.local.deletePerson(person);
        removed += gone.length;
      } else {
        for (const [, file] of gone) await this.local.removeImage(person, file);
        removed += gone.length;
      }
    }
    // Added elsewhere.
    for (const [person, photos] of shared) {
      const here = local.get(person);
      for (const [sha, file] of photos) {
        if (here?.has(sha) || this.refused.has(key(person, sha))) continue;
        const row = await this.pool.query<{ bytes: Buffer }>(
          'SELECT bytes FROM facebank_photos WHERE person = $1 AND sha256 = $2',
          [person, sha],
        );
        const bytes = row.rows[0]?.bytes;
        if (bytes === undefined) continue; // removed meanwhile: the next sync sees it
        try {
          await this.local.addImage(person, bytes, file);
          added++;
        } catch (err) {
          if (err instanceof FacebankError) {
            this.refused.add(key(person, sha));
            this.logger.warn(
              { person, file, err: err.message },
              'cluster: a shared photo cannot be enrolled on this node',
            );
          } else {
            complete = false; // e.g. the inference pool is busy: tried again at the next poll
            this.logger.warn({ person, file, err: (err as Error).message }, 'cluster: enrolling a shared photo failed');
          }
        }
      }
    }
    this.record(shared);
    await this.negatives.apply();
    if (added + removed > 0) {
      const ms = Math.round(performance.now() - started);
      this.logger.info(
        { added, removed, ms },
        `cluster: facebank in step: ${added} photos added, ${removed} removed, in ${ms} ms`,
      );
    }
    if (complete) this.version = version;
  }

  /** After a write here: its own notification does the same, unless the listener is reconnecting. */
  private resync(): void {
    void this.sync().catch(this.syncFailed);
  }

  /** Records which of the folder's photos PostgreSQL has (those are the shared ones), and warns about the others. */
  private record(shared: Photos): void {
    const local = localPhotos(this.local.people());
    const both: [string, string][] = [];
    let unshared = 0;
    for (const [person, photos] of local) {
      for (const sha of photos.keys()) {
        if (shared.get(person)?.has(sha)) both.push([person, sha]);
        else unshared++;
      }
    }
    const insert = this.db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO cluster_facebank_synced (person, sha256) VALUES (?, ?)',
    );
    this.db.transaction(() => {
      this.db.exec('DELETE FROM cluster_facebank_synced');
      for (const [person, sha] of both) insert.run(person, sha);
    })();
    if (unshared !== this.unshared && unshared > 0) {
      this.logger.warn(
        { photos: unshared },
        `cluster: ${unshared} photos in this node's facebank folder are not in the shared database and are matched on this node only; share them with 'facerec facebank import <dir>'`,
      );
    }
    this.unshared = unshared;
  }

  private async undo(work: () => Promise<unknown>): Promise<void> {
    await work().catch((err: unknown) =>
      this.logger.error({ err: (err as Error).message }, 'cluster: could not undo a facebank write'),
    );
  }

  private readonly syncFailed = (err: unknown): void => {
    this.logger.warn({ err: (err as Error).message }, 'cluster: bringing the facebank in step failed');
  };

  /** Looks at the version every POLL_MS (and listens for notifications, reconnecting when lost). */
  private poll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      try {
        this.listen();
        const v = (await this.pool.query<{ version: string }>('SELECT version FROM facebank_version')).rows[0]?.version;
        if (v !== this.version) await this.sync();
      } catch (err) {
        this.syncFailed(err);
      }
      this.poll();
    }, POLL_MS);
  }

  private listen(): void {
    if (this.listener || this.stopped) return;
    this.listener = listenOn(
      this.databaseUrl,
      FACEBANK_CHANNEL,
      () => this.resync(),
      (client) => {
        if (this.listener === client) this.listener = undefined;
      },
    );
  }
}
