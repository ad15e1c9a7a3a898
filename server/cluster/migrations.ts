// The shared database's schema, as numbered migrations applied once each at start-up, in order, and recorded in
// schema_migrations. Nodes starting together take turns (an advisory lock), so each migration runs once.
// A migration is never edited once released: a change is a new migration.
import type pg from 'pg';

/** `lease_expires` and the lease history are timed by the database's clock, never a node's. */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'nodes, cameras with leases, lease history, events',
    sql: `
CREATE TABLE cluster_nodes (
  name         text        PRIMARY KEY,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE cameras (
  id             text             PRIMARY KEY,
  name           text             NOT NULL,
  url            text             NOT NULL,
  enabled        boolean          NOT NULL,
  max_detect_fps double precision NOT NULL,
  input_fps      double precision NOT NULL,
  analysis       jsonb            NOT NULL DEFAULT '{}',
  created_at     bigint           NOT NULL,
  owner          text,
  epoch          bigint           NOT NULL DEFAULT 0,
  lease_expires  timestamptz
);
-- Every lease granted: which node held a camera under which epoch, and until when (NULL: still held).
CREATE TABLE camera_leases (
  camera_id  text        NOT NULL,
  epoch      bigint      NOT NULL,
  owner      text        NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now(),
  ended_at   timestamptz,
  PRIMARY KEY (camera_id, epoch)
);
CREATE TABLE events (
  id         bigserial        PRIMARY KEY,
  origin     text             NOT NULL,
  local_id   bigint           NOT NULL,
  node       text             NOT NULL,
  camera_id  text             NOT NULL,
  epoch      bigint,
  type       text             NOT NULL CHECK (type IN ('person_appeared', 'person_left')),
  track_id   integer          NOT NULL,
  name       text             NOT NULL,
  score      double precision NOT NULL,
  at         bigint           NOT NULL,
  crop       bytea,
  stored_at  timestamptz      NOT NULL DEFAULT now(),
  UNIQUE (origin, local_id)
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_camera ON events (camera_id, id);
CREATE INDEX events_name ON events (name, id);
`,
  },
  {
    version: 2,
    name: 'facebank photos and their version',
    sql: `
-- Every person's photos, the facebank's source of truth in cluster mode (each node's folder is a copy).
-- A person is their photos: one without photos is not shared.
CREATE TABLE facebank_photos (
  person     text        NOT NULL,
  sha256     text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  file       text        NOT NULL,
  bytes      bytea       NOT NULL,
  added_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person, sha256)
);
-- Bumped by every change to facebank_photos, in the same transaction: a node whose copy is of an older version
-- looks again (its fallback when a notification was missed).
CREATE TABLE facebank_version (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  version bigint  NOT NULL
);
INSERT INTO facebank_version (version) VALUES (0);
`,
  },
  {
    version: 3,
    name: 'event id ranges, events listed by time',
    sql: `
-- Each node database (outbox origin) numbers its events from ordinal × 2^36 on (server/cluster/eventIds.ts), so
-- an event has one id on every node; the events copied before this migration keep their serial ids.
CREATE TABLE event_origins (
  ordinal       integer     PRIMARY KEY CHECK (ordinal > 0),
  origin        text        NOT NULL UNIQUE,
  registered_at timestamptz NOT NULL DEFAULT now()
);
-- Ids no longer follow time across nodes: lists are ordered by (at, id).
CREATE INDEX events_at_id ON events (at, id);
CREATE INDEX events_camera_at ON events (camera_id, at, id);
CREATE INDEX events_name_at ON events (name, at, id);
DROP INDEX events_at;
DROP INDEX events_camera;
DROP INDEX events_name;
`,
  },
];

/** Any 64-bit number of our own: the advisory lock the nodes take turns on while migrating. */
const MIGRATION_LOCK = 7_140_514_001;

/** Applies the migrations this database lacks; returns their versions. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`schema migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}
