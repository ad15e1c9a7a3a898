// `npm run soak`: the server as a child process under an hour of everything at once (not part of `npm test`):
// 4 cameras playing clips of the test people (3 over RTSP, 1 local file), POST /rec at a steady rate with real photos (every answer
// checked), a person enrolled and one removed over the API every minute, a Socket.IO dashboard connecting and
// dropping, a camera's RTSP server killed every 5 minutes. Prints the server's RSS (and its ffmpeg decoders')
// every 5 minutes, then the errors, the person events produced vs stored, the recovery times, and a verdict
// against the bars of issue 11; the exit code is 1 when a bar fails.
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Camera, Health, PersonEvent } from '../server/schemas.ts';
import { childProcesses, processMemory, rssBytes } from '../test/support/processes.ts';
import { type ServerProcess, spawnServer } from '../test/support/serverProcess.ts';
import { type Person, personImage } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { type DecoderSpawn, SoakCameras } from './soak/cameras.ts';
import { Dashboard, type EventMessage, Watcher } from './soak/dashboards.ts';
import { ENROL_PHOTOS, FacebankLoad, MAX_IN_FLIGHT } from './soak/facebankLoad.ts';
import { call, Tally } from './soak/tally.ts';
import { median, textTable } from './stats.ts';

const HELP = `Usage: npm run soak [-- options]

Starts facerec as a child process on 127.0.0.1, as npm start does (through bin/with-allocator.sh: jemalloc where installed), with a temporary
facebank and database (CPU inference), and, for
--minutes, runs at once: --cameras cameras, each playing its own 640x480 clip of four test people, one as a
local file and the others through the test RTSP server (python3 + GStreamer, scripts/setup-test-deps.sh), one
server per camera; POST /rec with test photos at --rec-rate,
each answer checked against who is enrolled; every --enrol-every seconds a person enrolled and one removed over
the API; a Socket.IO dashboard that subscribes to every camera and fetches event crops, dropping (cleanly and
abruptly in turn) and reconnecting every --socket-every seconds, beside a watcher client connected throughout;
every --kill-every seconds one camera's RTSP server SIGKILLed and restarted --down seconds after the camera
noticed. Every --report-every minutes it prints the server's RSS (VmRSS) and its ffmpeg children's, /rec counts
and latency, and the running totals; at the end, the errors, person events produced vs stored, recovery times,
and pass/fail against the bars:
  RSS growth < 5% from 1/6 of the run (minute 10 of 60) to the end (medians of the samples of the minute before
  each), 0 errors, 0 lost events, every camera live again within 5 s of its server listening again.
Errors: a non-2xx where a 2xx was expected, a wrong /rec name or enrolment, a server log line at level error,
a Socket.IO error, a camera that left 'live' without being killed, an unclean server exit. Exit code 1 when a bar
fails.

Options:
  --minutes M          length of the run (default 60)
  --report-every M     minutes between table rows (default 5)
  --cameras N          cameras (default 4)
  --file-cameras N     of them, how many read their clip as a local file (looped) instead of over RTSP
                       (default 1; the others' RTSP servers are the ones killed, in turn)
  --rec-rate R         POST /rec per second (default 2)
  --enrol-every S      seconds between an enrolment + a removal (default 60)
  --socket-every S     seconds per dashboard connect/drop cycle, connected for 3/4 of it (default 60)
  --kill-every S       seconds between camera server kills (default 300)
  --down S             seconds a killed server stays down once its camera noticed (default 1)
  --pool-size N        inference workers (default: the server's default for this machine)
  --server-log FILE    also write every server log line (debug level) to FILE, to look into a failed bar
  --help               show this text

A short run that exercises every part:
  npm run soak -- --minutes 8 --report-every 1 --kill-every 60 --enrol-every 20 --socket-every 15`;

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '60' },
    'report-every': { type: 'string', default: '5' },
    cameras: { type: 'string', default: '4' },
    'file-cameras': { type: 'string', default: '1' },
    'rec-rate': { type: 'string', default: '2' },
    'enrol-every': { type: 'string', default: '60' },
    'socket-every': { type: 'string', default: '60' },
    'kill-every': { type: 'string', default: '300' },
    down: { type: 'string', default: '1' },
    'pool-size': { type: 'string' },
    'server-log': { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const MINUTES = numberArg('minutes', args.minutes);
const REPORT_MS = numberArg('report-every', args['report-every']) * 60_000;
const CAMERAS = numberArg('cameras', args.cameras, { integer: true, allowZero: true });
const FILE_CAMERAS = Math.min(
  CAMERAS,
  numberArg('file-cameras', args['file-cameras'], { integer: true, allowZero: true }),
);
const REC_RATE = numberArg('rec-rate', args['rec-rate'], { allowZero: true });
const ENROL_MS = numberArg('enrol-every', args['enrol-every']) * 1000;
const SOCKET_MS = numberArg('socket-every', args['socket-every']) * 1000;
const KILL_MS = numberArg('kill-every', args['kill-every']) * 1000;
const DOWN_MS = numberArg('down', args.down, { allowZero: true }) * 1000;
const POOL_SIZE =
  args['pool-size'] === undefined ? undefined : numberArg('pool-size', args['pool-size'], { integer: true });

/** Always enrolled (in the facebank folder from the start). */
const SEEDED: Person[] = ['amy', 'howard', 'penny', 'raj'];
/** Enrolled and removed in turn over the API; the first two are in the folder at the start. */
const CHURN: Person[] = ['bernadette', 'leonard', 'sheldon', 'stuart'];
/** A first start builds the model cache and scans the facebank: minutes on a loaded machine. */
const START_TIMEOUT_MS = 180_000;
const SAMPLE_MS = 10_000;
const RSS_GROWTH_MAX = 0.05;
const RECOVERY_MAX_MS = 5000;

const mb = (bytes: number | undefined) => (bytes === undefined ? '-' : (bytes / 2 ** 20).toFixed(0));
const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(0));
const sleep = (t: number) => new Promise((resolve) => setTimeout(resolve, t));

let stopping = false;

/** Runs `fn` at t0 + firstMs + k·periodMs (one that is due while the previous runs starts after it), until stopping. */
async function periodically(t0: number, firstMs: number, periodMs: number, fn: () => Promise<void>): Promise<void> {
  for (let k = 0; ; k++) {
    const at = t0 + firstMs + k * periodMs;
    while (!stopping && Date.now() < at) await sleep(Math.min(250, at - Date.now()));
    if (stopping) return;
    await fn();
  }
}

interface Sample {
  at: number;
  rss: number | undefined;
  /** The server's RssAnon / RssFile: an allocator's growth shows in the first. */
  anon: number | undefined;
  file: number | undefined;
  ffmpegRss: number;
  ffmpegCount: number;
}

function sample(server: ServerProcess): Sample {
  const decoders = childProcesses(server.pid).filter((p) => p.comm.startsWith('ffmpeg'));
  const memory = processMemory(server.pid);
  return {
    at: Date.now(),
    rss: memory?.rss,
    anon: memory?.anon,
    file: memory?.file,
    ffmpegRss: decoders.reduce((sum, p) => sum + (rssBytes(p.pid) ?? 0), 0),
    ffmpegCount: decoders.length,
  };
}

/** Median server RSS of the samples in the minute before `at`. */
function rssAround(samples: Sample[], at: number): number | undefined {
  const window = samples.filter((s) => s.at > at - 60_000 && s.at <= at && s.rss !== undefined).map((s) => s.rss!);
  return window.length === 0 ? undefined : median(window);
}

/** Least-squares slope of the server's RSS over the samples after `from`, in bytes per minute. */
function rssTrend(samples: Sample[], from: number): number | undefined {
  const points = samples.filter((s) => s.at >= from && s.rss !== undefined).map((s) => [s.at / 60_000, s.rss!]);
  if (points.length < 3) return undefined;
  const mx = points.reduce((sum, [x]) => sum + x!, 0) / points.length;
  const my = points.reduce((sum, [, y]) => sum + y!, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x! - mx) * (y! - my);
    den += (x! - mx) ** 2;
  }
  return den === 0 ? undefined : num / den;
}

interface ServerMetrics {
  heap: number | undefined;
  external: number | undefined;
  loopP99: number | undefined;
  loopMax: number | undefined;
}

/**
 * From the server's /metrics: V8 heap used, memory outside it held by JS objects (Buffers), and the event loop
 * delay p99 / max since the previous scrape.
 */
async function serverMetrics(tally: Tally, base: string): Promise<ServerMetrics> {
  const text = (await call(tally, base, 'metrics', { path: '/metrics', expect: 200 }))?.text;
  const value = (name: string) => {
    const m = text?.match(new RegExp(`^facerec_${name} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : undefined;
  };
  const seconds = (name: string) => {
    const v = value(name);
    return v === undefined ? undefined : v * 1000;
  };
  return {
    heap: value('nodejs_heap_size_used_bytes'),
    external: value('nodejs_external_memory_bytes'),
    loopP99: seconds('nodejs_eventloop_lag_p99_seconds'),
    loopMax: seconds('nodejs_eventloop_lag_max_seconds'),
  };
}

/** The lowest detections per second of any camera now (GET /api/cameras). */
async function slowestCamera(tally: Tally, base: string): Promise<number | undefined> {
  const listed = Camera.array().safeParse(
    (await call(tally, base, 'list cameras', { path: '/api/cameras', expect: 200 }))?.json,
  );
  if (!listed.success || listed.data.length === 0) return undefined;
  return Math.min(...listed.data.map((c) => c.health.processedFps));
}

/** Every stored event, newest first, paging through GET /api/events. */
async function storedEvents(tally: Tally, base: string): Promise<EventMessage[] | undefined> {
  const out: EventMessage[] = [];
  for (let before: number | undefined; ; ) {
    const answer = await call(tally, base, 'list events', {
      path: `/api/events?limit=1000${before === undefined ? '' : `&before=${before}`}`,
      expect: 200,
    });
    const page = PersonEvent.array().safeParse(answer?.json);
    if (!page.success) return undefined;
    out.push(...page.data);
    if (page.data.length < 1000) return out;
    before = page.data.at(-1)!.id;
  }
}

interface EventsVerdict {
  produced: number;
  stored: number;
  /** Received over Socket.IO but not stored, or stored differently. */
  notStored: number;
  /** Appeared without a left (or the reverse) once every camera was removed. */
  unpaired: number;
  /** Gaps in the stored ids (an id is never reused: a gap is an event deleted). */
  gaps: number;
  /** Stored but never received by the watcher. */
  notDelivered: number;
  perCamera: Map<string, number>;
}

function judgeEvents(received: Map<number, EventMessage>, stored: EventMessage[]): EventsVerdict {
  const byId = new Map(stored.map((e) => [e.id, e]));
  let notStored = 0;
  for (const [id, e] of received) {
    const s = byId.get(id);
    if (!s || s.type !== e.type || s.cameraId !== e.cameraId || s.trackId !== e.trackId || s.name !== e.name) {
      notStored++;
    }
  }
  const balance = new Map<string, number>();
  const perCamera = new Map<string, number>();
  for (const e of stored) {
    const key = `${e.cameraId}\t${e.trackId}`;
    balance.set(key, (balance.get(key) ?? 0) + (e.type === 'person_appeared' ? 1 : -1));
    perCamera.set(e.cameraId, (perCamera.get(e.cameraId) ?? 0) + 1);
  }
  const ids = stored.map((e) => e.id).sort((a, b) => a - b);
  const gaps = ids.length === 0 ? 0 : ids.at(-1)! - ids[0]! + 1 - ids.length;
  return {
    produced: new Set([...received.keys(), ...byId.keys()]).size,
    stored: stored.length,
    notStored,
    unpaired: [...balance.values()].reduce((sum, b) => sum + Math.abs(b), 0),
    gaps,
    notDelivered: stored.filter((e) => !received.has(e.id)).length,
    perCamera,
  };
}

async function main(): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'facerec-soak-'));
  const tally = new Tally();
  let server: ServerProcess | undefined;
  let cameras: SoakCameras | undefined;
  let watcher: Watcher | undefined;
  try {
    const facebankDir = join(root, 'people');
    for (const person of [...SEEDED, ...CHURN.slice(0, 2)]) {
      await mkdir(join(facebankDir, person), { recursive: true });
      for (const n of ENROL_PHOTOS)
        await copyFile(personImage(person, n), join(facebankDir, person, `${person}${n}.png`));
    }
    const config = {
      facebankDir,
      databasePath: join(root, 'facerec.db'),
      executionProvider: 'cpu',
      ...(POOL_SIZE === undefined ? {} : { poolSize: POOL_SIZE }),
    };
    // Debug: the ffmpeg spawns split each recovery into its steps (a few lines per camera restart).
    const spawns: DecoderSpawn[] = [];
    const serverLog = args['server-log'] === undefined ? undefined : createWriteStream(args['server-log']);
    server = spawnServer({
      config: { ...config, logLevel: 'debug' },
      configDir: root,
      // The server as `npm start` runs it: its allocator bounds native memory (README, Memory).
      withAllocator: true,
      onLine: (line) => {
        serverLog?.write(`${line.raw}\n`);
        // Errors as they happen (a long run's end is far); warnings are summed up at the end.
        if (line.level >= 50) console.log(`[server error] ${line.raw.slice(0, 500)}`);
        if (line.msg === 'ffmpeg decoder started' && line.input) {
          spawns.push({ input: line.input, at: line.time });
          if (spawns.length > 1000) spawns.splice(0, 500);
        }
      },
    });
    const base = await server.listeningWithin(START_TIMEOUT_MS);
    watcher = new Watcher(base, tally);
    await watcher.connected();
    const started = Health.parse((await (await fetch(`${base}/api/health`)).json()) as unknown);
    console.log(
      `facerec soak: ${MINUTES} min, server pid ${server.pid} at ${base} (${started.allocator}), ` +
        `${availableParallelism()} cores, load average ` +
        `${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}\n` +
        `${CAMERAS} cameras (${CAMERAS - FILE_CAMERAS} over RTSP, ${FILE_CAMERAS} local file${FILE_CAMERAS === 1 ? '' : 's'}), /rec ${REC_RATE}/s, ` +
        `enrol + remove every ${ENROL_MS / 1000} s, dashboard cycle ${SOCKET_MS / 1000} s, ` +
        `a camera server killed every ${KILL_MS / 1000} s (down ${DOWN_MS / 1000} s)`,
    );
    cameras = new SoakCameras(base, tally, watcher, join(root, 'clips'), spawns);
    console.log('making clips and starting cameras…');
    await cameras.start(CAMERAS, FILE_CAMERAS);
    const load = new FacebankLoad(base, tally, SEEDED, CHURN, 2);
    await load.load();
    const dashboard = new Dashboard(base, tally);

    const t0 = Date.now();
    const endAt = t0 + MINUTES * 60_000;
    const samples: Sample[] = [sample(server)];
    const rows: string[][] = [];
    const report = async () => {
      const s = sample(server!);
      samples.push(s);
      const lat = load.takeLatencies();
      const metrics = await serverMetrics(tally, base);
      const recoveries = cameras!.recoveries.map((r) => r.liveMs ?? Number.POSITIVE_INFINITY);
      rows.push([
        ((s.at - t0) / 60_000).toFixed(1),
        `${mb(s.rss)} (${mb(s.anon)} / ${mb(s.file)})`,
        `${mb(s.ffmpegRss)} (${s.ffmpegCount})`,
        `${mb(metrics.heap)} / ${mb(metrics.external)}`,
        `${ms(metrics.loopP99)} / ${ms(metrics.loopMax)}`,
        `${load.rec.ok}/${load.rec.sent}`,
        String(load.rec.wrong),
        `${ms(lat.p50)} / ${ms(lat.p95)}`,
        `${load.churn.enrolments} / ${load.churn.removals}`,
        String(dashboard.stats.connects),
        String(watcher!.events.size),
        (await slowestCamera(tally, base))?.toFixed(1) ?? '-',
        String(recoveries.length),
        recoveries.length === 0 ? '-' : ms(Math.max(...recoveries)),
        String(tally.total() + server!.problems.filter((p) => p.level >= 50).length),
      ]);
      // The header once, then a row per report; the whole table again at the end.
      const lines = textTable(HEADER, [rows.at(-1)!]).split('\n');
      console.log((rows.length === 1 ? lines : lines.slice(2)).join('\n'));
    };

    const recTimer = REC_RATE > 0 ? setInterval(() => load.recTick(), 1000 / REC_RATE) : undefined;
    const loops = [
      periodically(t0, ENROL_MS, ENROL_MS, async () => {
        await load.enrolNext();
        await load.removeOldest();
      }),
      periodically(t0, 0, SOCKET_MS, async () => {
        await dashboard.connect();
        await sleep(Math.min(SOCKET_MS * 0.75, Math.max(0, endAt - Date.now())));
        await dashboard.drop();
      }),
      ...(cameras.killable > 0 ? [periodically(t0, KILL_MS, KILL_MS, () => cameras!.killNext(DOWN_MS))] : []),
      periodically(t0, SAMPLE_MS, SAMPLE_MS, async () => {
        samples.push(sample(server!));
      }),
      periodically(t0, REPORT_MS, REPORT_MS, report),
    ];
    while (Date.now() < endAt) {
      if (server.exit) throw new Error(`the server exited during the soak: ${JSON.stringify(server.exit)}`);
      await sleep(Math.min(1000, endAt - Date.now()));
    }
    stopping = true;
    clearInterval(recTimer);
    console.log('\nstopping the load (a kill or enrolment under way finishes first)…');
    await Promise.all(loops);
    await load.drain();
    await dashboard.drop();
    if (rows.length === 0 || Number(rows.at(-1)![0]) < (Date.now() - t0) / 60_000 - 0.5) await report();

    // Removing the cameras ends their tracks: each visit's person_left is stored; then every event is compared.
    await cameras.removeAll();
    await sleep(2000);
    const decoders = childProcesses(server.pid).filter((p) => p.comm.startsWith('ffmpeg'));
    if (decoders.length > 0) {
      tally.error('camera', `${decoders.length} ffmpeg decoders still running 2 s after every camera was removed`);
    }
    const stored = await storedEvents(tally, base);
    const verdict = stored ? judgeEvents(watcher.events, stored) : undefined;
    // Events the storage refused are counted by the server, never sent: produced, not stored.
    const health = Health.safeParse((await call(tally, base, 'health', { path: '/api/health', expect: 200 }))?.json);
    const dropped = health.success ? health.data.events.dropped : undefined;
    watcher.close();
    const exit = await server.stop();
    if (exit.code !== 0 || exit.forced) {
      tally.error(
        'shutdown',
        `the server exited with code ${exit.code}, signal ${exit.signal}${exit.forced ? ' (killed after 30 s)' : ''}`,
      );
    }
    for (const p of server.problems.filter((l) => l.level >= 50)) tally.error('server log', p.raw.slice(0, 500));

    // --- the summary ---------------------------------------------------------------------------------------
    const runMs = endAt - t0;
    const refAt = t0 + runMs / 6;
    const rssRef = rssAround(samples, refAt);
    const rssEnd = rssAround(samples, endAt);
    const growth = rssRef && rssEnd ? (rssEnd - rssRef) / rssRef : undefined;
    const recoveries = cameras.recoveries;
    const lost =
      verdict && dropped !== undefined ? verdict.notStored + verdict.unpaired + verdict.gaps + dropped : undefined;
    const trend = rssTrend(samples, refAt);
    console.log(`\n${textTable(HEADER, rows)}`);
    if (verdict && verdict.notDelivered > 0) {
      tally.error('socket', `${verdict.notDelivered} stored events never reached the watcher (connected throughout)`);
    }

    console.log(
      `\n/rec: ${load.rec.ok} of ${load.rec.sent} answered 200; ${load.rec.right} judged right, ${load.rec.wrong} wrong, ${load.rec.unjudged} not judged (an enrolment or removal under way); ${load.rec.skipped} ticks skipped (${MAX_IN_FLIGHT} requests waiting)`,
    );
    console.log(`facebank: ${load.churn.enrolments} enrolments, ${load.churn.removals} removals over the API`);
    const d = dashboard.stats;
    console.log(
      `dashboard: ${d.connects} connections, ${d.drops.clean} clean and ${d.drops.abrupt} abrupt drops; received ` +
        `${d.detections} detections, ${d.previews} previews, ${d.events} events; fetched ${d.crops} crops`,
    );
    if (verdict) {
      console.log(
        `events: ${verdict.produced} produced (received by the watcher or stored), ${verdict.stored} stored ` +
          `(${[...verdict.perCamera.values()].join(' + ')} by camera); received but not stored ${verdict.notStored}, ` +
          `appeared/left unpaired ${verdict.unpaired}, id gaps ${verdict.gaps}, dropped by the server ${dropped ?? '?'}; ` +
          `stored but not delivered ${verdict.notDelivered}`,
      );
    }
    if (recoveries.length > 0) {
      console.log(
        `\ncamera recoveries (ms):\n${textTable(
          ['camera', 'kill → noticed', 'server start', 'retry wait', 'spawn → live', 'listening → live', 'kill → live'],
          recoveries.map((r) => [
            r.camera,
            ms(r.noticedMs),
            ms(r.serverStartMs),
            ms(r.retryWaitMs),
            ms(r.spawnToLiveMs),
            ms(r.liveMs),
            ms(r.killToLiveMs),
          ]),
        )}`,
      );
    }
    const warnings = new Map<string, number>();
    for (const p of server.problems.filter((l) => l.level === 40)) warnings.set(p.msg, (warnings.get(p.msg) ?? 0) + 1);
    if (warnings.size > 0) {
      console.log(`\nserver warnings (not errors): ${[...warnings].map(([m, n]) => `${n}× ${m}`).join('; ')}`);
    }
    console.log(`\nerrors: ${tally.total()} (${tally.summary()})`);
    for (const line of tally.details()) console.log(line);

    const refMinute = (runMs / 6 / 60_000).toFixed(1);
    if (trend !== undefined) {
      console.log(
        `server RSS trend from minute ${refMinute} on: ${(trend / 2 ** 20).toFixed(2)} MB per minute (least squares over the ${SAMPLE_MS / 1000} s samples)`,
      );
    }
    const bars: Array<[string, boolean]> = [
      [
        `RSS growth from minute ${refMinute} to the end < ${RSS_GROWTH_MAX * 100}%: ${mb(rssRef)} → ${mb(rssEnd)} MB (${growth === undefined ? '-' : `${(growth * 100).toFixed(1)}%`})`,
        growth !== undefined && growth < RSS_GROWTH_MAX,
      ],
      [`0 errors: ${tally.total()}`, tally.total() === 0],
      [`0 lost events: ${lost ?? 'events not read'}`, lost === 0],
      [
        `every camera live within ${RECOVERY_MAX_MS / 1000} s of its server's restart: ${recoveries.length} kills, max ${
          recoveries.length === 0 ? '-' : ms(Math.max(...recoveries.map((r) => r.liveMs ?? Number.POSITIVE_INFINITY)))
        } ms`,
        recoveries.every((r) => r.liveMs !== undefined && r.liveMs <= RECOVERY_MAX_MS) &&
          (recoveries.length > 0 || cameras.killable === 0 || KILL_MS > runMs),
      ],
    ];
    console.log('');
    for (const [text, ok] of bars) console.log(`${ok ? 'PASS' : 'FAIL'}  ${text}`);
    return bars.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    stopping = true;
    watcher?.close();
    await server?.stop();
    await cameras?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const HEADER = [
  'min',
  'server RSS (anon / file) MB',
  'ffmpeg RSS MB (n)',
  'heap / external MB',
  'loop delay p99 / max ms',
  '/rec ok/sent',
  'wrong',
  '/rec p50 / p95 ms',
  'enrolled / removed',
  'dashboard connects',
  'events',
  'det/s slowest cam',
  'kills',
  'recovery max ms',
  'errors',
];

process.exitCode = await main();
