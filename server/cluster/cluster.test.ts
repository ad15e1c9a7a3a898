// Cluster mode end to end (issue 14): a throwaway PostgreSQL and Redis, three real server processes (real models,
// real ffmpeg) and nine small file cameras, all on 127.0.0.1. One shared set-up, then scenarios in turn on the same
// nodes: a dashboard on one node watches the others' cameras, and Redis restarts; the unknown-faces gallery groups
// every node's visits; the database goes away for 20 s; a node is frozen (SIGSTOP) for 10 s; "not this person" on
// one node reaches the others; a node is killed (-9); a node joins; a node is stopped (SIGTERM). Each scenario's
// figures are printed.
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_FACES_SCHEMA, EventFaces } from '../../streams/eventFaces.ts';
import { EVENTS_SCHEMA } from '../../streams/events.ts';
import { analysedOn, prepareClusterRoot, spawnClusterNode } from '../../test/support/clusterNodes.ts';
import { type ClientSocket, connectClient, redisLinkUp, subscribeWhenKnown } from '../../test/support/liveNodes.ts';
import { type Postgres, startPostgres } from '../../test/support/postgres.ts';
import { type RedisServer, startRedis } from '../../test/support/redis.ts';
import type { ServerProcess } from '../../test/support/serverProcess.ts';
import { type Person, personImage } from '../../test/support/testdata.ts';
import { until } from '../../test/support/waits.ts';
import type { DetectionsMessage, PersonEventMessage } from '../live/protocol.ts';
import { writeEvent } from './drainer.ts';
import { importFacebank } from './facebankImport.ts';
import { forgetOld, heartbeat, join as joinAs, leave, NodeNameTaken } from './membership.ts';
import { SharedEvents } from './sharedEvents.ts';
import type { ClusterHealth } from './status.ts';

const CAMERAS = 9;
/** Not a promise of the product: how long a node may take to start (models) on a loaded 2-core machine. */
const LOADED = 90_000;
// The product's promises (issue 14).
const FAILOVER_MS = 8000;
const HANDOVER_MS = 3000;
const STALE_STOP_MS = 2000;
const REBALANCE_MS = 15_000;
const FACEBANK_SPREAD_MS = 2000;
/** The lease `join` assumes: the nodes' default (4 s), within which a live holder heartbeats several times. */
const JOIN_LEASE_S = 4;
/** A dashboard receives another node's camera within 5 s (of subscribing, of Redis being back). */
const DASHBOARD_MS = 5000;
/** One of the people in the cameras' clip (test/support/clusterNodes.ts), enrolled by the import scenario. */
const CLIP_PERSON: Person = 'amy';

interface Node {
  name: string;
  proc: ServerProcess;
  url: string;
  dbPath: string;
  /** Log lines of interest, with their times. */
  lines: { msg: string; time: number }[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? 0;

describe('cluster mode: three nodes on PostgreSQL, nine cameras', () => {
  const fileStart = performance.now();
  let postgres: Postgres;
  let redis: RedisServer;
  let client: ClientSocket | undefined;
  let sql: pg.Pool;
  let root: string;
  let clip: string;
  const nodes = new Map<string, Node>();
  /** The leases as they were before PostgreSQL went away. */
  let beforeOutage: { id: string; owner: string | null; epoch: string }[] = [];

  const startNode = async (name: string): Promise<Node> => {
    const lines: Node['lines'] = [];
    const { proc, dbPath } = spawnClusterNode({
      name,
      root,
      databaseUrl: postgres.url,
      redisUrl: redis.url,
      onLine: (l) => {
        if (l.msg.startsWith('cluster:')) lines.push({ msg: l.msg, time: l.time });
      },
    });
    const node: Node = { name, proc, url: await proc.listeningWithin(LOADED), dbPath, lines };
    nodes.set(name, node);
    return node;
  };

  /** Waits until each of `ids` is analysed on one of `among`; returns how long after `since` each was. */
  const analysedAgain = async (ids: string[], among: Node[], since: number, what: string): Promise<number[]> => {
    const after = new Map<string, number>();
    await until(
      what,
      async () => {
        const seen = await analysedOn(among);
        for (const id of ids) if (!after.has(id) && seen.has(id)) after.set(id, performance.now() - since);
        return after.size === ids.length;
      },
      30_000,
      100,
    );
    return [...after.values()];
  };

  const leases = async () =>
    (
      await sql.query<{ id: string; owner: string | null; epoch: string }>(
        'SELECT id, owner, epoch FROM cameras ORDER BY id',
      )
    ).rows;

  const shareOf = async () => {
    const counts = new Map<string, number>();
    for (const r of await leases()) if (r.owner) counts.set(r.owner, (counts.get(r.owner) ?? 0) + 1);
    return counts;
  };

  /** Every camera held by one of `among`, each holding an even share (±1), and analysed where it is held. */
  const balanced = async (among: Node[]) => {
    const rows = await leases();
    const counts = among.map((n) => rows.filter((r) => r.owner === n.name).length);
    const even = CAMERAS / among.length;
    if (counts.some((c) => Math.abs(c - even) > 1) || counts.reduce((a, b) => a + b, 0) !== CAMERAS) return false;
    const seen = await analysedOn(among);
    return rows.every((r) => seen.get(r.id)?.length === 1 && seen.get(r.id)?.[0] === r.owner) ? counts : false;
  };

  /** Per node: events it produced up to now (its SQLite), refused, still queued, and what PostgreSQL holds of them. */
  const accounting = (node: Node) => {
    const db = new Database(node.dbPath, { readonly: true, fileMustExist: true });
    try {
      const origin = db.prepare<[], { origin: string }>('SELECT origin FROM events_outbox_origin').get()!.origin;
      const upTo = db.prepare<[], { id: number | null }>('SELECT MAX(id) AS id FROM events_person').get()?.id ?? 0;
      const produced = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events_person').get()!.n;
      const refused = db
        .prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events_outbox WHERE refused = 1')
        .get()!.n;
      return { origin, upTo, produced, refused };
    } finally {
      db.close();
    }
  };

  /** Waits until PostgreSQL holds every event each node produced up to now (not refused); returns the totals. */
  const allStored = async (among: Node[], timeoutMs: number) => {
    const snap = among.map((n) => ({ node: n, ...accounting(n) }));
    return until(
      'every produced event stored in PostgreSQL',
      async () => {
        let produced = 0;
        let stored = 0;
        let refused = 0;
        for (const s of snap) {
          const { rows } = await sql.query<{ n: string; distinct: string }>(
            'SELECT COUNT(*) AS n, COUNT(DISTINCT local_id) AS distinct FROM events WHERE origin = $1 AND local_id <= $2',
            [s.origin, s.upTo],
          );
          const n = Number(rows[0]?.n);
          expect(Number(rows[0]?.distinct), `duplicates from ${s.node.name}`).toBe(n);
          produced += s.produced;
          refused += s.refused;
          stored += n;
        }
        return stored === produced - refused ? { produced, stored, refused } : undefined;
      },
      timeoutMs,
      250,
    );
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'facerec-cluster-'));
    [postgres, redis, clip] = await Promise.all([startPostgres(), startRedis(), prepareClusterRoot(root)]);
    sql = new pg.Pool({ connectionString: postgres.url, max: 2 });
    sql.on('error', () => undefined);
    const [a] = await Promise.all(['node-a', 'node-b', 'node-c'].map(startNode));
    for (let i = 0; i < CAMERAS; i++) {
      const res = await fetch(`${a!.url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `cam ${i}`, url: clip, inputFps: 2, maxDetectFps: 2 }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
    }
    const t0 = performance.now();
    const counts = await until(
      'the cameras shared out evenly and analysed',
      () => balanced([...nodes.values()]),
      LOADED,
      200,
    );
    console.log(
      `set-up: 3 nodes, ${CAMERAS} cameras shared out ${counts.join('/')} in ${Math.round(performance.now() - t0)} ms`,
    );
  }, 240_000);

  afterAll(async () => {
    client?.close();
    for (const n of nodes.values()) {
      try {
        process.kill(-n.proc.pid, 'SIGCONT');
      } catch {
        // gone
      }
    }
    await Promise.all([...nodes.values()].map((n) => n.proc.stop(10_000)));
    await sql?.end();
    await postgres?.stop();
    await redis?.stop();
    if (root) await rm(root, { recursive: true, force: true });
    console.log(`cluster.test.ts: ${Math.round((performance.now() - fileStart) / 1000)} s`);
  }, 60_000);

  it('a camera added, changed and removed through any node: every node follows PostgreSQL', async () => {
    const [a, b, c] = [...nodes.values()] as [Node, Node, Node];
    const listed = async (n: Node) =>
      (await (await fetch(`${n.url}/api/cameras`)).json()) as { id: string; name: string }[];
    const everywhere = (check: (cams: { id: string; name: string }[]) => boolean) =>
      until('every node to list it', async () => (await Promise.all([a, b, c].map(listed))).every(check), 5000, 100);
    for (const n of [a, b, c]) expect((await listed(n)).length).toBe(CAMERAS);
    const send = (n: Node, method: string, path: string, body?: unknown) =>
      fetch(`${n.url}/api/cameras${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const added = await send(b, 'POST', '', { name: 'extra', url: clip, enabled: false });
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as { id: string };
    await everywhere((cams) => cams.some((x) => x.id === id && x.name === 'extra'));
    expect((await send(c, 'PATCH', `/${id}`, { name: 'renamed' })).status).toBe(200);
    await everywhere((cams) => cams.some((x) => x.id === id && x.name === 'renamed'));
    expect((await send(a, 'DELETE', `/${id}`)).status).toBe(204);
    await everywhere((cams) => cams.length === CAMERAS && !cams.some((x) => x.id === id));
    expect((await sql.query('SELECT 1 FROM cameras WHERE id = $1', [id])).rowCount).toBe(0);
  });

  it('a person enrolled through node A is named by /rec on node B within 2 s; deleted through node C, node A no longer names them', async () => {
    const [a, b, c] = [...nodes.values()] as [Node, Node, Node];
    // Not one of the people in the cameras' clip: their events stay as they were.
    const person: Person = 'leonard';
    const b64 = async (n: number) => (await readFile(personImage(person, n))).toString('base64');
    const names = async (n: Node, file: string) => {
      const res = await fetch(`${n.url}/rec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ file }),
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { names: string[] | null }).names ?? [];
    };
    const probe = await b64(3);
    expect(await names(b, probe)).not.toContain(person);
    const enrol = await fetch(`${a.url}/api/people/${person}/images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ file: await b64(1), filename: 'first.jpg' }),
    });
    expect(enrol.status, await enrol.clone().text()).toBe(201);
    const enrolledAt = performance.now();
    await until('node B to name the person', async () => (await names(b, probe)).includes(person), 10_000, 50);
    const namedAfter = performance.now() - enrolledAt;
    expect(await names(a, probe)).toContain(person);
    const del = await fetch(`${c.url}/api/people/${person}`, { method: 'DELETE' });
    expect(del.status, await del.clone().text()).toBe(204);
    const deletedAt = performance.now();
    await until('node A to stop naming the person', async () => !(await names(a, probe)).includes(person), 10_000, 50);
    const forgottenAfter = performance.now() - deletedAt;
    const applied = (n: Node) => n.lines.filter((l) => l.msg.startsWith('cluster: facebank in step')).at(0)?.msg;
    console.log(
      `facebank: enrolled on node-a, named by /rec on node-b ${Math.round(namedAfter)} ms later ` +
        `(node-b: ${applied(b)}); deleted on node-c, no longer named on node-a ${Math.round(forgottenAfter)} ms later`,
    );
    expect(namedAfter).toBeLessThan(FACEBANK_SPREAD_MS);
    expect(forgottenAfter).toBeLessThan(FACEBANK_SPREAD_MS);
    expect((await sql.query('SELECT 1 FROM facebank_photos WHERE person = $1', [person])).rowCount).toBe(0);
    const listed = async (n: Node) => ((await (await fetch(`${n.url}/api/people`)).json()) as unknown[]).length;
    await until(
      'no node to list anyone',
      async () => (await Promise.all([a, b, c].map(listed))).every((l) => l === 0),
      5000,
      100,
    );
  }, 60_000);

  it('facebank import loads people folders into PostgreSQL, and every node names them', async () => {
    const person: Person = 'sheldon';
    const dir = join(root, 'import');
    // Amy is in the cameras' clip: from now on her visits are named, for "not this person" below (which deletes her).
    for (const p of [person, CLIP_PERSON]) {
      await mkdir(join(dir, p), { recursive: true });
      for (const n of [1, 2]) await copyFile(personImage(p, n), join(dir, p, `${n}.jpg`));
    }
    // What `facerec facebank import` runs (a CLI process would add seconds of start-up to this file).
    const started = performance.now();
    expect(await importFacebank(sql, dir)).toEqual({ people: 2, added: 4, present: 0, skipped: [] });
    const importedAt = performance.now();
    expect(await importFacebank(sql, dir)).toEqual({ people: 2, added: 0, present: 4, skipped: [] });
    const probe = JSON.stringify({ file: (await readFile(personImage(person, 3))).toString('base64') });
    const named = async (n: Node) => {
      const res = await fetch(`${n.url}/rec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: probe,
      });
      return (((await res.json()) as { names: string[] | null }).names ?? []).includes(person);
    };
    await until(
      'every node to name the imported person',
      async () => (await Promise.all([...nodes.values()].map(named))).every(Boolean),
      10_000,
      100,
    );
    console.log(
      `facebank import: ${Math.round(importedAt - started)} ms; named on every node ` +
        `${Math.round(performance.now() - importedAt)} ms later`,
    );
  }, 90_000);

  it('/api/health on any node shows the nodes and who holds each camera, as PostgreSQL has it', async () => {
    const [a, b] = [...nodes.values()] as [Node, Node];
    const rows = await leases();
    for (const n of [a, b]) {
      const cluster = ((await (await fetch(`${n.url}/api/health`)).json()) as { cluster: ClusterHealth }).cluster;
      expect(cluster).toMatchObject({ enabled: true, node: n.name, reachable: true });
      if (!cluster.enabled) return;
      expect(cluster.cameras.map((c) => ({ id: c.id, owner: c.owner, epoch: String(c.epoch) }))).toEqual(rows);
      expect(cluster.cameras.every((c) => c.lease === 'held' && (c.leaseRemainingMs ?? 0) > 0)).toBe(true);
      expect(cluster.nodes.map((x) => [x.name, x.alive, x.cameras])).toEqual(
        ['node-a', 'node-b', 'node-c'].map((name) => [name, true, rows.filter((r) => r.owner === name).length]),
      );
    }
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/^facerec_cluster_outbox_depth \d+$/m);
    expect(metrics).toMatch(/^facerec_cluster_events_refused_total 0$/m);
  });

  it('a node name is held by one process: a second one is refused while the first heartbeats; a dead one is taken over', async () => {
    const t0 = performance.now();
    await expect(joinAs(sql, 'node-a', JOIN_LEASE_S)).rejects.toThrow(/another node is running as "node-a"/);
    const refusedMs = performance.now() - t0;
    // A process whose name was taken over finds out at its next heartbeat (and the row stays the holder's).
    await expect(heartbeat(sql, 'node-a', '2000-01-01 00:00:00+00')).rejects.toThrow(NodeNameTaken);
    // A name whose holder died a while ago is free at once; a node gone for days is forgotten.
    await sql.query(
      `INSERT INTO cluster_nodes (name, heartbeat_at) VALUES ('ghost', now() - interval '1 minute'),
         ('long-gone', now() - interval '2 days')`,
    );
    const token = await joinAs(sql, 'ghost', JOIN_LEASE_S);
    await leave(sql, 'ghost', token);
    expect((await forgetOld(sql)).nodes).toBe(1);
    const names = (await sql.query<{ name: string }>('SELECT name FROM cluster_nodes ORDER BY name')).rows;
    expect(names.map((r) => r.name)).toEqual([...nodes.keys()].sort());
    for (const n of nodes.values()) expect(n.proc.exit).toBeUndefined();
    console.log(`node names: a second "node-a" refused after ${Math.round(refusedMs)} ms`);
  });

  it('a dashboard client on node A receives detections of the cameras owned by B and C within 5 s of subscribing', async () => {
    const a = nodes.get('node-a')!;
    const rows = await leases();
    const watched = ['node-b', 'node-c'].map((owner) => rows.find((r) => r.owner === owner)!.id);
    const socket = await connectClient(a.url);
    client = socket;
    const seen: { at: number; message: DetectionsMessage }[] = [];
    socket.on('detections', (message) => seen.push({ at: performance.now(), message }));
    const faceOn = (id: string, after: number) =>
      seen.find((d) => d.at > after && d.message.cameraId === id && d.message.faces.length > 0);
    const times: string[] = [];
    for (const id of watched) {
      await subscribeWhenKnown(socket, id, 10_000);
      const subscribedAt = performance.now();
      const face = await until(
        `a face detected on ${id}, seen on node A`,
        () => faceOn(id, subscribedAt),
        DASHBOARD_MS,
      );
      times.push(`${Math.round(face.at - subscribedAt)} ms`);
    }
    console.log(`node A's dashboard: a face on B's and C's cameras ${times.join(' and ')} after subscribing`);

    // Redis restarts: the dashboard resumes, no node exits.
    await redis.pause();
    await until('node A sees the Redis link down', async () => !(await redisLinkUp(a.url)), 10_000, 100);
    await redis.resume();
    const backAt = performance.now();
    const again = await until(
      "B's and C's cameras on node A again",
      () => {
        const got = watched.map((id) => seen.find((d) => d.at > backAt && d.message.cameraId === id));
        return got.every((d) => d !== undefined) && got;
      },
      DASHBOARD_MS,
    );
    console.log(
      `Redis restart: node A's dashboard had B's and C's cameras again ${again.map((d) => Math.round(d.at - backAt)).join(' and ')} ms after Redis was back`,
    );
    for (const n of nodes.values()) expect(n.proc.exit).toBeUndefined();
    socket.close();
  }, 60_000);

  it("an event has one id on every node: B's event, live on node A, is listed under that id and its crop served by every node", async () => {
    const [a, b, c] = ['node-a', 'node-b', 'node-c'].map((name) => nodes.get(name)!);
    const onB = new Set((await leases()).filter((r) => r.owner === b!.name).map((r) => r.id));
    const socket = await connectClient(a!.url);
    const live: PersonEventMessage[] = [];
    socket.on('events', (e) => live.push(e));
    // The clip's people come and go every few seconds; the socket gets every node's events.
    const event = await until(
      "an event with a crop from one of B's cameras, live on node A",
      () => live.find((e) => onB.has(e.cameraId) && e.cropUrl !== null),
      20_000,
    );
    socket.close();
    expect(event.id).toBeGreaterThan(2 ** 36);
    const listed = await until(
      `event ${event.id} listed by node C`,
      async () => {
        const page = (await (
          await fetch(`${c!.url}/api/events?camera=${event.cameraId}&limit=100`)
        ).json()) as PersonEventMessage[];
        return page.find((e) => e.id === event.id);
      },
      5000,
      100,
    );
    const { id, type, cameraId, trackId, name, cropUrl } = event;
    expect(listed).toMatchObject({ id, type, cameraId, trackId, name, cropUrl });
    expect(Math.abs(listed.at - event.at)).toBeLessThanOrEqual(1);
    const crops = await Promise.all(
      [a!, b!, c!].map(async (n) => {
        const res = await fetch(`${n.url}${event.cropUrl}`);
        expect(res.status, `${n.name} serves ${event.cropUrl}`).toBe(200);
        return Buffer.from(await res.arrayBuffer());
      }),
    );
    expect(crops[0]!.equals(crops[1]!) && crops[2]!.equals(crops[1]!)).toBe(true);
    // Pages go on from the cursor by time: no event twice, none out of order.
    const first = (await (await fetch(`${c!.url}/api/events?limit=20`)).json()) as PersonEventMessage[];
    const next = (await (
      await fetch(`${a!.url}/api/events?limit=20&before=${first.at(-1)!.id}`)
    ).json()) as PersonEventMessage[];
    const both = [...first, ...next];
    expect(new Set(both.map((e) => e.id)).size).toBe(both.length);
    expect(both.every((e, i) => i === 0 || e.at <= both[i - 1]!.at)).toBe(true);
    console.log(`event ids: node B's event ${event.id} listed by node C and its crop the same on A, B and C`);
  }, 60_000);

  it("the unknown-faces gallery on node A groups every node's Unknown visits", async () => {
    const a = nodes.get('node-a')!;
    const started = performance.now();
    const res = await fetch(`${a.url}/api/unknowns?limit=12`);
    expect(res.status).toBe(200);
    const clusters = (await res.json()) as { events: { id: number }[] }[];
    const ms = performance.now() - started;
    const ids = clusters.flatMap((k) => k.events.map((e) => e.id));
    const { rows } = await sql.query<{ id: string; node: string; name: string }>(
      'SELECT id, node, name FROM events WHERE id = ANY($1::bigint[])',
      [ids],
    );
    const nodeOf = new Map(rows.map((r) => [Number(r.id), r.node]));
    expect(rows.length).toBe(ids.length);
    expect(rows.every((r) => r.name === 'Unknown')).toBe(true);
    const fromOthers = ids.filter((id) => nodeOf.get(id) !== a.name).length;
    // The clip's strangers are on every node's cameras: one of them is one card, whichever nodes saw them.
    const spanning = clusters.filter((k) => new Set(k.events.map((e) => nodeOf.get(e.id))).size > 1).length;
    console.log(
      `unknowns on node-a: ${ids.length} visits (${fromOthers} analysed on other nodes) in ${clusters.length} groups, ` +
        `${spanning} of them seen by several nodes, in ${Math.round(ms)} ms`,
    );
    expect(fromOthers).toBeGreaterThan(0);
    expect(spanning).toBeGreaterThan(0);
  }, 60_000);

  it('PostgreSQL away for 20 s: no camera moves, and once it is back every event is stored, once', async () => {
    const running = [...nodes.values()];
    const before = await leases();
    const atPause = running.map((n) => accounting(n).upTo);
    await postgres.pause();
    await new Promise((r) => setTimeout(r, 20_000));
    const duringOutage = running.reduce((sum, n, i) => sum + accounting(n).upTo - atPause[i]!, 0);
    await postgres.resume();
    const backAt = performance.now();
    const totals = await allStored(running, 30_000);
    console.log(
      `outage 20 s: ${duringOutage} events produced while PostgreSQL was away; all ${totals.stored} of ` +
        `${totals.produced} produced stored ${Math.round(performance.now() - backAt)} ms after it came back ` +
        `(${totals.refused} refused)`,
    );
    expect(duringOutage).toBeGreaterThan(0);
    expect(totals.refused).toBe(0);
    for (const n of running) expect(n.proc.exit).toBeUndefined();
    // Whether any camera moved shows only once the nodes' grace after reconnecting (a lease) has passed: the next
    // scenario checks it after its own wait of more than a lease.
    beforeOutage = before;
  }, 90_000);

  it('a node frozen 10 s (SIGSTOP) loses its cameras; on waking it stops them within 2 s and none of its stale events is taken', async () => {
    const frozen = nodes.get('node-b')!;
    const others = [...nodes.values()].filter((n) => n !== frozen);
    const mine = (await leases()).filter((r) => r.owner === frozen.name);
    process.kill(-frozen.proc.pid, 'SIGSTOP');
    const frozenAt = Date.now();
    await until(
      'the frozen node’s cameras analysed by the others',
      async () => {
        const seen = await analysedOn(others);
        return mine.every((r) => seen.has(r.id));
      },
      10_000,
      200,
    );
    // Over a lease after the outage: the nodes renewed their own leases, none took another's (the frozen one's
    // excepted), so nobody's events were fenced off.
    const now = await leases();
    const kept = beforeOutage.filter((r) => r.owner !== frozen.name);
    expect(now.filter((r) => kept.some((k) => k.id === r.id))).toEqual(kept);
    await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + 10_000 - Date.now())));
    process.kill(-frozen.proc.pid, 'SIGCONT');
    const wokeAt = Date.now();
    const lostLine = await until(
      'the woken node to stop its lost cameras',
      () => frozen.lines.find((l) => l.time >= wokeAt && l.msg.includes('lost the lease')),
      10_000,
    );
    const stoppedAfter = lostLine.time - wokeAt;
    // Settle (the woken node takes its share back), then look at what was stored under its stale leases.
    await until('rebalanced evenly', () => balanced([...nodes.values()]), REBALANCE_MS + 10_000, 200);
    const totals = await allStored([...nodes.values()], 20_000);
    const { rows } = await sql.query<{ n: string }>(
      `SELECT COUNT(*) AS n FROM events e JOIN camera_leases l ON l.camera_id = e.camera_id AND l.epoch = e.epoch
        WHERE e.node = $1 AND l.owner = $1 AND e.epoch = ANY($2::bigint[]) AND e.camera_id = ANY($3::text[])
          AND e.at > extract(epoch FROM l.ended_at) * 1000`,
      [frozen.name, mine.map((r) => r.epoch), mine.map((r) => r.id)],
    );
    console.log(
      `SIGSTOP 10 s: ${mine.length} cameras moved; the woken node stopped them ${stoppedAfter} ms after SIGCONT; ` +
        `${accounting(frozen).refused} of its events refused as stale, ${rows[0]?.n} stale ones accepted; ` +
        `${totals.stored}/${totals.produced - totals.refused} events stored`,
    );
    expect(mine.length).toBeGreaterThan(0);
    expect(Number(rows[0]?.n)).toBe(0);
    // The woken node's /metrics counts what its outbox marked refused.
    const metrics = await (await fetch(`${frozen.url}/metrics`)).text();
    expect(metrics).toContain(`facerec_cluster_events_refused_total ${accounting(frozen).refused}\n`);
    expect(stoppedAfter).toBeLessThan(STALE_STOP_MS);
    // The woken node may have analysed nothing worth an event in that second: the rule itself, on the database,
    // with an event under one of its stale leases from after the takeover, and one from before the freeze.
    const stale = mine[0]!;
    const probe = (id: number, at: number) =>
      writeEvent(
        sql,
        'probe',
        frozen.name,
        {
          id,
          epoch: Number(stale.epoch),
          type: 'person_appeared',
          cameraId: stale.id,
          trackId: 1,
          name: 'Unknown',
          score: 0,
          at,
          crop: null,
        },
        0,
      );
    expect(await probe(1, Date.now())).toBe('refused');
    expect(await probe(2, frozenAt - 1000)).toBe('stored');
    expect(await probe(2, frozenAt - 1000)).toBe('duplicate');
    await sql.query("DELETE FROM events WHERE origin = 'probe'");
  }, 90_000);

  it('events past EVENTS_RETENTION_DAYS are deleted from the shared database, crops and all; a stop between batches ends it', async () => {
    const events = new SharedEvents(sql);
    const now = Date.now();
    const day = 24 * 60 * 60 * 1000;
    const old = Array.from({ length: 7 }, (_, i) => now - (40 + i) * day);
    const kept = [now - 29 * day, now - day];
    for (const [i, at] of [...old, ...kept].entries()) {
      const crop = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
      const event = { id: i + 1, epoch: null, type: 'person_appeared' as const, cameraId: 'retention', trackId: 1 };
      expect(await writeEvent(sql, 'retention', 'node-a', { ...event, name: 'Unknown', score: 0, at, crop }, 0)).toBe(
        'stored',
      );
    }
    const left = async () =>
      (await sql.query<{ at: string }>("SELECT at FROM events WHERE origin = 'retention' ORDER BY at")).rows.map((r) =>
        Number(r.at),
      );
    const written = (await sql.query<{ id: string }>("SELECT id FROM events WHERE origin = 'retention'")).rows.map(
      (r) => Number(r.id),
    );
    // A node's cache of the gallery's face embeddings (its own SQLite) holds every one of them.
    const cache = new Database(':memory:');
    cache.exec(EVENTS_SCHEMA);
    cache.exec(EVENT_FACES_SCHEMA);
    const put = cache.prepare("INSERT INTO events_faces (event_id, model_id, embedding) VALUES (?, 'model', ?)");
    for (const id of written) put.run(id, Buffer.alloc(16));
    const faces = new EventFaces(cache, events, async () => new Float32Array(4), 'model', {
      stored: (ids) => events.stored(ids),
    });
    expect(await events.prune(0, now)).toBe(0);
    // The running nodes delete past retention too (every minute), so only what is left is certain, not who did it.
    expect(await events.prune(30, now)).toBeLessThanOrEqual(old.length);
    expect(await left()).toEqual(kept);
    // The cache follows: the rows of the events gone from the shared database go, the others stay.
    const keptIds = (await sql.query<{ id: string }>("SELECT id FROM events WHERE origin = 'retention'")).rows.map(
      (r) => Number(r.id),
    );
    expect(await faces.prune()).toBe(written.length - keptIds.length);
    const cached = cache.prepare('SELECT event_id FROM events_faces ORDER BY event_id').all() as { event_id: number }[];
    expect(cached.map((r) => r.event_id)).toEqual(keptIds.sort((x, y) => x - y));
    cache.close();
    // In batches: a stop asked for before the first one deletes nothing.
    expect(await events.prune(1, now, () => false)).toBe(0);
    expect(await left()).toEqual(kept);
    expect(await events.prune(1, now)).toBeLessThanOrEqual(1);
    expect(await left()).toEqual([kept[1]]);
    await sql.query("DELETE FROM events WHERE origin = 'retention'");
  });

  it('"not this person" on node A for another node\'s event: listed under the same id on a third node within 2 s, which then stops naming that face; undone there, gone on A', async () => {
    const a = nodes.get('node-a')!;
    const person = CLIP_PERSON;
    // Her visits have been named since the import scenario, a minute ago: other nodes' cameras have shown her by now.
    const waitStart = performance.now();
    const event = await until(
      `a visit named ${person}, with a crop, analysed on another node than A`,
      async () =>
        (
          await sql.query<{ id: string; node: string }>(
            `SELECT id, node FROM events WHERE name = $1 AND type = 'person_appeared' AND crop IS NOT NULL
               AND node <> $2 ORDER BY at DESC LIMIT 1`,
            [person, a.name],
          )
        ).rows[0],
      30_000,
      200,
    );
    const waited = performance.now() - waitStart;
    const id = Number(event.id);
    const x = nodes.get(event.node)!; // the node that analysed it
    const y = [...nodes.values()].find((n) => n !== a && n !== x)!; // the third
    const send = (n: Node, path: string, method = 'POST', body?: unknown) =>
      fetch(`${n.url}${path}`, {
        method,
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    const cropRes = await fetch(`${y.url}/api/events/${id}/crop`);
    expect(cropRes.status).toBe(200);
    const crop = JSON.stringify({ file: Buffer.from(await cropRes.arrayBuffer()).toString('base64') });
    const names = async (n: Node) => {
      const res = await fetch(`${n.url}/rec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: crop,
      });
      expect(res.status).toBe(200);
      return ((await res.json()) as { names: string[] | null }).names ?? [];
    };
    const listed = async (n: Node, name: string) => {
      const res = await fetch(`${n.url}/api/people/${encodeURIComponent(name)}/negatives`);
      return res.ok ? ((await res.json()) as { id: number }[]).map((neg) => neg.id) : [];
    };
    expect(await names(y)).toContain(person);

    const rejected = await send(a, `/api/events/${id}/reject`);
    expect(rejected.status, await rejected.clone().text()).toBe(201);
    const rejectedAt = performance.now();
    const negative = (await rejected.json()) as { id: number; person: string; eventId: number; cropUrl: string };
    expect(negative).toMatchObject({ person, eventId: id, cropUrl: `/api/events/${id}/crop` });
    await until(
      `node ${y.name} to list negative ${negative.id}`,
      async () => (await listed(y, person)).includes(negative.id),
      10_000,
      50,
    );
    const spreadMs = performance.now() - rejectedAt;
    expect(await names(y)).not.toContain(person);
    // The same event rejected again, on the node that analysed it: the same negative.
    const again = await send(x, `/api/events/${id}/reject`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: number }).id).toBe(negative.id);

    const undone = await send(y, `/api/people/${person}/negatives/${negative.id}`, 'DELETE');
    expect(undone.status, await undone.clone().text()).toBe(204);
    const undoneAt = performance.now();
    await until(
      `node A to drop negative ${negative.id}`,
      async () => !(await listed(a, person)).includes(negative.id),
      10_000,
      50,
    );
    const undoMs = performance.now() - undoneAt;
    expect(await names(a)).toContain(person);

    // A rename carries the person's negatives to every node under the same id, and deleting the person takes them.
    const rejectedAgain = await send(a, `/api/events/${id}/reject`);
    expect(rejectedAgain.status).toBe(201);
    const second = (await rejectedAgain.json()) as { id: number };
    const renamed = `${person}-farrah`;
    expect((await send(x, `/api/people/${person}`, 'PATCH', { name: renamed })).status).toBe(200);
    await until(
      `node A to list ${renamed}'s negative`,
      async () => (await listed(a, renamed)).includes(second.id),
      10_000,
      50,
    );
    expect((await send(y, `/api/people/${renamed}`, 'DELETE')).status).toBe(204);
    expect((await sql.query('SELECT 1 FROM facebank_negatives')).rowCount).toBe(0);
    const people = async (n: Node) =>
      ((await (await fetch(`${n.url}/api/people`)).json()) as { name: string }[]).map((p) => p.name);
    await until(
      'every node without her',
      async () => (await Promise.all([a, x, y].map(people))).every((p) => !p.includes(renamed) && !p.includes(person)),
      10_000,
      100,
    );
    console.log(
      `not this person: ${x.name}'s event ${id} (found after ${Math.round(waited)} ms) rejected on node-a, listed by ${y.name} ` +
        `${Math.round(spreadMs)} ms later under id ${negative.id}; undone on ${y.name}, gone on node-a ${Math.round(undoMs)} ms later`,
    );
    expect(negative.id).toBeGreaterThanOrEqual(2 ** 40);
    expect(spreadMs).toBeLessThan(FACEBANK_SPREAD_MS);
    expect(undoMs).toBeLessThan(FACEBANK_SPREAD_MS);
  }, 90_000);

  it('a node killed (-9): its cameras are analysed again on the survivors within 8 s', async () => {
    const victim = nodes.get('node-c')!;
    const survivors = [...nodes.values()].filter((n) => n !== victim);
    const mine = (await leases()).filter((r) => r.owner === victim.name).map((r) => r.id);
    const killedAt = performance.now();
    await victim.proc.kill();
    nodes.delete(victim.name);
    const times = await analysedAgain(mine, survivors, killedAt, 'every camera of the killed node analysed again');
    console.log(
      `kill -9: ${mine.length} cameras analysed again on the survivors after median ${Math.round(median(times))} ms, ` +
        `max ${Math.round(Math.max(...times))} ms`,
    );
    expect(Math.max(...times)).toBeLessThan(FAILOVER_MS);
  }, 60_000);

  it('a node joins: cameras rebalance to an even share (±1) within 15 s, each moving at most once', async () => {
    await until('even on the survivors', () => balanced([...nodes.values()]), 20_000, 200);
    const before = new Map((await leases()).map((r) => [r.id, Number(r.epoch)]));
    const joiner = await startNode('node-d');
    const joinedAt = performance.now();
    // A node brings its (empty) folder in step with PostgreSQL before it listens.
    const people = (await (await fetch(`${joiner.url}/api/people`)).json()) as { name: string }[];
    expect(people.map((p) => p.name)).toEqual(['sheldon']);
    const counts = await until('rebalanced over 3 nodes', () => balanced([...nodes.values()]), 30_000, 200);
    const took = performance.now() - joinedAt;
    const moves = (await leases()).map((r) => Number(r.epoch) - before.get(r.id)!);
    console.log(
      `join: ${counts.join('/')} ${Math.round(took)} ms after node-d listened; ${moves.filter((m) => m > 0).length} ` +
        `cameras moved, most moves of one camera: ${Math.max(...moves)}`,
    );
    expect((await shareOf()).get(joiner.name)).toBeGreaterThanOrEqual(Math.floor(CAMERAS / 3) - 1);
    expect(Math.max(...moves)).toBeLessThanOrEqual(1);
    expect(took).toBeLessThan(REBALANCE_MS);
  }, 120_000);

  it('a node stopped (SIGTERM) hands its cameras over within 3 s, and they are analysed elsewhere within 8 s', async () => {
    const leaving = nodes.get('node-d')!;
    const staying = [...nodes.values()].filter((n) => n !== leaving);
    const mine = (await leases()).filter((r) => r.owner === leaving.name).map((r) => r.id);
    const stopAt = performance.now();
    const stopWall = Date.now();
    const stopped = leaving.proc.stop();
    // The handover is the leases moving; analysing again also starts each camera's decoder and detection on its
    // new node, which on a loaded 2-core machine takes seconds of its own (the same as after a kill).
    const names = new Set(staying.map((n) => n.name));
    const handedOver = until(
      'every camera of the stopped node leased by another',
      async () => {
        const owners = new Map((await leases()).map((r) => [r.id, r.owner]));
        return mine.every((id) => names.has(owners.get(id) ?? '')) && performance.now() - stopAt;
      },
      FAILOVER_MS,
    );
    const times = await analysedAgain(mine, staying, stopAt, 'every camera of the stopped node analysed elsewhere');
    const handoverMs = await handedOver;
    expect((await stopped).forced).toBe(false);
    nodes.delete(leaving.name);
    console.log(
      `SIGTERM: ${mine.length} cameras given up ${(leaving.lines.find((l) => l.msg.startsWith('cluster: left'))?.time ?? Number.NaN) - stopWall} ms ` +
        `after the signal, analysed elsewhere after median ${Math.round(median(times))} ms, max ${Math.round(Math.max(...times))} ms`,
    );
    const taken = staying.flatMap((n) => n.lines.filter((l) => l.time >= stopWall && l.msg.includes('took')));
    console.log(`SIGTERM: every camera leased by another node ${Math.round(handoverMs)} ms after the signal`);
    console.log(
      `SIGTERM: taken over ${taken.map((l) => `${l.time - stopWall} ms (${l.msg})`).join(', ')} after the signal`,
    );
    expect(mine.length).toBeGreaterThan(0);
    expect(handoverMs).toBeLessThan(HANDOVER_MS);
    expect(Math.max(...times)).toBeLessThan(FAILOVER_MS);
    const totals = await allStored([leaving, ...staying], 20_000);
    console.log(`events: ${totals.stored} stored of ${totals.produced} produced (${totals.refused} refused as stale)`);
    // Any node lists every node's events, from PostgreSQL (the running cameras add some between the queries).
    const stored = async () => Number((await sql.query<{ n: string }>('SELECT COUNT(*) AS n FROM events')).rows[0]?.n);
    const atLeast = await stored();
    const listedEvents = (await (await fetch(`${staying[0]!.url}/api/events?limit=1000`)).json()) as unknown[];
    expect(listedEvents.length).toBeGreaterThanOrEqual(Math.min(1000, atLeast));
    expect(listedEvents.length).toBeLessThanOrEqual(Math.min(1000, await stored()));
  }, 60_000);
});
