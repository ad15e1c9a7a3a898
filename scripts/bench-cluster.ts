// `npm run bench:cluster`: cluster mode's figures (issue 14). A throwaway PostgreSQL and Redis, three real server
// nodes (test/support/clusterNodes.ts) and small file cameras. Measures, in this order: cross-node delivery (a
// client on one node watching a camera another node analyses, beside a client on the owner, same frames); each
// node's CPU and RSS meanwhile; failover after kill -9 and after SIGTERM, a few times each (the node is started
// again, with its own SQLite file, between repetitions); and at the end, with every node stopped, the events
// produced (the nodes' SQLite files) against those stored in PostgreSQL.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { analysedOn, prepareClusterRoot, spawnClusterNode } from '../test/support/clusterNodes.ts';
import { type ClientSocket, connectClient, subscribeWhenKnown } from '../test/support/liveNodes.ts';
import { startPostgres } from '../test/support/postgres.ts';
import { startRedis } from '../test/support/redis.ts';
import type { ServerProcess } from '../test/support/serverProcess.ts';
import { until } from '../test/support/waits.ts';
import { numberArg } from './args.ts';
import { cpuSeconds, median, quantile, textTable } from './stats.ts';

const HELP = `Usage: npm run bench:cluster [-- options]

Starts a throwaway PostgreSQL and Redis and three facerec nodes in cluster mode (DATABASE_URL, REDIS_URL) with
small file cameras (256×192, 2 fps, four people coming and going). Prints:
  - cross-node delivery: detections of a camera analysed on one node, received by a client on another node and
    by a client on the owner (capture → client, p50/p95, the same frames);
  - each node's CPU (% of one core, the node and its ffmpeg decoders) and RSS over that time;
  - failover: kill -9 and SIGTERM of the node holding most cameras, --reps times each: until each of its cameras
    is analysed on another node (median/max); the node is started again between repetitions;
  - events produced (the nodes' own SQLite files) against those stored in PostgreSQL, and refused (fencing).

Options:
  --cameras N    cameras (default 6)
  --duration S   seconds of cross-node delivery, CPU and RSS measured (default 20)
  --reps N       repetitions of each failover (default 3)
  --help         show this text`;

const { values: args } = parseArgs({
  options: {
    cameras: { type: 'string', default: '6' },
    duration: { type: 'string', default: '20' },
    reps: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const CAMERAS = numberArg('cameras', args.cameras, { integer: true });
const durationS = numberArg('duration', args.duration);
const reps = numberArg('reps', args.reps, { integer: true });
const NAMES = ['node-1', 'node-2', 'node-3'];
/** Bounds only a broken run exceeds (a node loads its models on a loaded 2-core machine). */
const WITHIN_MS = 120_000;

interface Node {
  name: string;
  proc: ServerProcess;
  url: string;
  dbPath: string;
}

const ms = (v: number) => (Number.isNaN(v) ? '–' : `${Math.round(v)} ms`);
const sleep = (t: number) => new Promise((resolve) => setTimeout(resolve, t));

function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'facerec-bench-cluster-'));
  const [postgres, redis, clip] = await Promise.all([startPostgres(), startRedis(), prepareClusterRoot(root)]);
  const sql = new pg.Pool({ connectionString: postgres.url, max: 2 });
  sql.on('error', () => undefined);
  const nodes = new Map<string, Node>();
  const dbPaths = new Set<string>();
  const clients: ClientSocket[] = [];
  const start = async (name: string) => {
    const { proc, dbPath } = spawnClusterNode({ name, root, databaseUrl: postgres.url, redisUrl: redis.url });
    dbPaths.add(dbPath);
    nodes.set(name, { name, proc, dbPath, url: '' });
    const node = { name, proc, dbPath, url: await proc.listeningWithin(WITHIN_MS) };
    nodes.set(name, node);
    return node;
  };
  const owners = async () =>
    (await sql.query<{ id: string; owner: string | null }>('SELECT id, owner FROM cameras ORDER BY id')).rows;
  /** Every camera held by a running node, evenly (±1), and analysed there. */
  const settled = async () => {
    const rows = await owners();
    const running = [...nodes.values()];
    const counts = running.map((n) => rows.filter((r) => r.owner === n.name).length);
    if (Math.max(...counts) - Math.min(...counts) > 1 || counts.reduce((a, b) => a + b, 0) !== CAMERAS) return false;
    const seen = await analysedOn(running);
    return rows.every((r) => seen.get(r.id)?.join() === r.owner);
  };

  try {
    const [first] = await Promise.all(NAMES.map(start));
    for (let i = 0; i < CAMERAS; i++) {
      const res = await fetch(`${first!.url}/api/cameras`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `cam ${i}`, url: clip, inputFps: 2, maxDetectFps: 2 }),
      });
      if (res.status !== 201) throw new Error(`POST /api/cameras: ${res.status} ${await res.text()}`);
    }
    await until('the cameras shared out and analysed', settled, WITHIN_MS, 200);
    console.log(`\n3 nodes, ${CAMERAS} file cameras (256×192, 2 detections/s each), shared out evenly.\n`);

    // Cross-node delivery, with each node's CPU and RSS over the same time.
    const rows = await owners();
    const watcher = nodes.get('node-1')!;
    const watched = rows.find((r) => r.owner !== watcher.name)!;
    const owner = nodes.get(watched.owner!)!;
    const arrivals = { across: [] as number[], local: [] as number[] };
    for (const [node, into] of [
      [watcher, arrivals.across],
      [owner, arrivals.local],
    ] as const) {
      const socket = await connectClient(node.url);
      clients.push(socket);
      await subscribeWhenKnown(socket, watched.id, WITHIN_MS);
      socket.on('detections', (d) => into.push(Date.now() - d.frameTime));
    }
    await sleep(2000);
    arrivals.across.length = 0;
    arrivals.local.length = 0;
    const cpu0 = [...nodes.values()].map((n) => cpuSeconds(n.proc.pid, true) ?? Number.NaN);
    const rss: number[][] = [...nodes.values()].map(() => []);
    const t0 = performance.now();
    for (let t = 0; t < durationS; t++) {
      await sleep(1000);
      for (const [i, n] of [...nodes.values()].entries()) rss[i]!.push(rssMb(n.proc.pid));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = [...nodes.values()].map(
      (n, i) => (((cpuSeconds(n.proc.pid, true) ?? Number.NaN) - cpu0[i]!) / seconds) * 100,
    );
    for (const c of clients) c.close();
    const p = (v: number[]) => `${ms(median(v))} / ${ms(quantile(v, 0.95))}`;
    console.log(
      textTable(
        ['client', 'detections received', 'capture → client p50 / p95'],
        [
          [`on ${watcher.name} (across nodes)`, String(arrivals.across.length), p(arrivals.across)],
          [`on ${owner.name} (the owner)`, String(arrivals.local.length), p(arrivals.local)],
        ],
      ),
    );
    console.log(`(camera ${watched.id}, analysed on ${owner.name}; ${Math.round(seconds)} s)\n`);
    console.log(
      textTable(
        ['node', 'cameras', 'CPU % of a core (with ffmpeg)', 'RSS MB median / max (node process)'],
        [...nodes.values()].map((n, i) => [
          n.name,
          String(rows.filter((r) => r.owner === n.name).length),
          cpu[i]!.toFixed(0),
          `${median(rss[i]!).toFixed(0)} / ${Math.max(...rss[i]!).toFixed(0)}`,
        ]),
      ),
    );

    // Failover: the node holding most cameras goes, the others take them; then it comes back.
    const failover: Record<'kill -9' | 'SIGTERM', number[][]> = { 'kill -9': [], SIGTERM: [] };
    for (let rep = 0; rep < reps; rep++) {
      for (const how of ['kill -9', 'SIGTERM'] as const) {
        const held = await owners();
        const victim = [...nodes.values()].sort(
          (a, b) => held.filter((r) => r.owner === b.name).length - held.filter((r) => r.owner === a.name).length,
        )[0]!;
        const mine = held.filter((r) => r.owner === victim.name).map((r) => r.id);
        const others = [...nodes.values()].filter((n) => n !== victim);
        const at = performance.now();
        const gone = how === 'kill -9' ? victim.proc.kill() : victim.proc.stop();
        nodes.delete(victim.name);
        const after = new Map<string, number>();
        await until(
          `${victim.name}'s cameras analysed elsewhere after ${how}`,
          async () => {
            const seen = await analysedOn(others);
            for (const id of mine) if (!after.has(id) && seen.has(id)) after.set(id, performance.now() - at);
            return after.size === mine.length;
          },
          WITHIN_MS,
          100,
        );
        await gone;
        failover[how].push([...after.values()]);
        console.log(
          `${how} of ${victim.name}: ${mine.length} cameras analysed elsewhere after ${[...after.values()].map(ms).join(', ')}`,
        );
        await start(victim.name);
        await until('settled again', settled, WITHIN_MS, 200);
      }
    }
    console.log(
      `\n${textTable(
        ['failover', 'repetitions', 'cameras moved', 'per repetition: slowest camera median / max'],
        Object.entries(failover).map(([how, runs]) => {
          const slowest = runs.map((r) => Math.max(...r));
          return [
            how,
            String(runs.length),
            String(runs.flat().length),
            `${ms(median(slowest))} / ${ms(Math.max(...slowest))}`,
          ];
        }),
      )}`,
    );
    console.log('(from the signal until each of the node’s cameras analysed frames on another node)\n');

    // Every node stops (SIGTERM copies its outbox), then the books are balanced.
    await Promise.all([...nodes.values()].map((n) => n.proc.stop()));
    nodes.clear();
    let produced = 0;
    let refused = 0;
    let waiting = 0;
    for (const path of dbPaths) {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      try {
        produced += db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events_person').get()!.n;
        refused += db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events_outbox WHERE refused = 1').get()!.n;
        waiting += db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events_outbox WHERE refused = 0').get()!.n;
      } finally {
        db.close();
      }
    }
    const stored = Number((await sql.query<{ n: string }>('SELECT COUNT(*) AS n FROM events')).rows[0]?.n);
    console.log(
      `events: ${produced} produced on the nodes, ${stored} stored in PostgreSQL, ${refused} refused (fencing), ` +
        `${waiting} still in an outbox, ${produced - stored - refused - waiting} unaccounted for`,
    );
  } finally {
    for (const c of clients) c.close();
    await Promise.all([...nodes.values()].map((n) => n.proc.stop()));
    await sql.end();
    await Promise.all([postgres.stop(), redis.stop()]);
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
