// Crash safety, proven by killing: the real server (a child process, real models, a file camera writing events)
// is SIGKILLed at random moments while a driver enrols photos, creates, renames and deletes people over HTTP,
// then restarted, many times. After every kill the folders hold no half-written image; after every restart the
// folders, the API's listing, the SQLite cache and the events agree, every acknowledged (2xx) operation is
// there, and the operation in flight at the kill happened wholly or not at all.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePeopleClip, type TempClip } from '../test/support/clips.ts';
import { seededRandom } from '../test/support/random.ts';
import { type ServerProcess, spawnServer } from '../test/support/serverProcess.ts';
import { PEOPLE, personImage } from '../test/support/testdata.ts';

/**
 * Kill/restart cycles. Each costs a server start (~2.7 s of a loaded 2-core machine with two lanes), so
 * `npm test` runs 40 to keep CI under its 20 minutes; `CRASH_CYCLES=100` runs the issue's hundred (passed in 271 s).
 */
const CYCLES = Number(process.env.CRASH_CYCLES ?? 40);
/**
 * How long the server lives after it listens, uniformly drawn: mostly short (enrolments of cached photos take a few
 * ms, so a short life still sees several writes), sometimes long enough for the camera's first events (~1.3 s
 * after listening), so events are written, acknowledged and killed mid-stream too. Some cycles kill it while it
 * starts instead.
 */
const SHORT_LIFE_MS = [0, 600] as const;
const LONG_LIFE_MS = [1500, 3500] as const;
const LONG_LIVES = 0.15;
const KILL_WHILE_STARTING = 0.1;
/** Bounds on waits that only a broken server exceeds (a loaded 2-core machine starts it in 3–10 s). */
const START_WITHIN_MS = 60_000;
const FIRST_EVENT_WITHIN_MS = 30_000;
const SEED = 0x6b696c6c;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** person → the sha256 of each of their images, sorted (file names are the server's choice). */
type State = Map<string, string[]>;

type Op =
  | { kind: 'enrol'; person: string; photo: Photo }
  | { kind: 'create'; person: string }
  | { kind: 'rename'; person: string; to: string }
  | { kind: 'delete'; person: string };

interface Photo {
  bytes: Buffer;
  sha256: string;
  name: string;
}

interface SeenEvent {
  id: number;
  type: string;
  cameraId: string;
  trackId: number;
  name: string;
  at: number;
  cropUrl: string | null;
}

function clone(s: State): State {
  return new Map([...s].map(([k, v]) => [k, [...v]]));
}

/** The state after `op` succeeded. */
function applied(s: State, op: Op): State {
  const next = clone(s);
  switch (op.kind) {
    case 'enrol': {
      const files = next.get(op.person) ?? [];
      if (!files.includes(op.photo.sha256)) files.push(op.photo.sha256);
      next.set(op.person, files.sort());
      break;
    }
    case 'create':
      next.set(op.person, []);
      break;
    case 'rename':
      next.set(op.to, next.get(op.person) ?? []);
      next.delete(op.person);
      break;
    case 'delete':
      next.delete(op.person);
      break;
  }
  return next;
}

function show(s: State): string {
  return JSON.stringify([...s].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => [p, f.map((h) => h.slice(0, 8))]));
}

const same = (a: State, b: State) => show(a) === show(b);

interface Figures {
  cycles: number;
  killedStarting: number;
  acknowledged: number;
  refused: number;
  inFlightApplied: number;
  inFlightNotApplied: number;
  events: number;
  cycleMs: number[];
}

/** Parallel runs, each on its own folder and database: a start-up is mostly one core's work, and there are two. */
const LANES = 2;

describe('crash safety: SIGKILL at random moments, then restart', () => {
  let clip: TempClip;
  const photos: Photo[] = [];
  const roots: string[] = [];
  const servers = new Set<ServerProcess>();

  beforeAll(async () => {
    clip = await makePeopleClip(['penny', 'raj', 'amy', 'howard'], { fps: 10 });
    for (const person of PEOPLE) {
      for (const n of [1, 2]) {
        const bytes = await readFile(personImage(person, n));
        // Every source decodes: any visible file with a source's hash is therefore whole.
        await sharp(bytes, { failOn: 'truncated' }).raw().toBuffer();
        photos.push({ bytes, sha256: sha(bytes), name: `${person}${n}.png` });
      }
    }
  });

  afterAll(async () => {
    await Promise.all([...servers].map((s) => s.kill()));
    await clip?.remove();
    await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
  });

  it(`keeps folders, cache and events whole across ${CYCLES} kills`, { timeout: 900_000 }, async () => {
    const startedAt = performance.now();
    const lanes = await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const root = await mkdtemp(join(tmpdir(), 'facerec-crash-'));
        roots.push(root);
        const cycles = Math.floor(CYCLES / LANES) + (lane < CYCLES % LANES ? 1 : 0);
        return runLane({ root, cycles, seed: SEED + lane, photos, clip: clip.path, servers });
      }),
    );
    const total = performance.now() - startedAt;
    const sum = (f: (x: Figures) => number) => lanes.reduce((n, l) => n + f(l), 0);
    const cycleMs = lanes.flatMap((l) => l.cycleMs).sort((a, b) => a - b);
    console.log(
      `crash safety: ${sum((l) => l.cycles)} kill/restart cycles in ${LANES} parallel runs ` +
        `(${sum((l) => l.killedStarting)} killed while starting) in ${(total / 1000).toFixed(1)} s, ` +
        `${(total / CYCLES / 1000).toFixed(2)} s a cycle, ${((total * LANES) / CYCLES / 1000).toFixed(2)} s a cycle per run (median ${Math.round(cycleMs[cycleMs.length >> 1]!)} ms, ` +
        `max ${Math.round(cycleMs.at(-1)!)} ms); ${sum((l) => l.acknowledged)} operations acknowledged, ` +
        `${sum((l) => l.refused)} refused; in flight at the kill: ${sum((l) => l.inFlightApplied)} applied, ` +
        `${sum((l) => l.inFlightNotApplied)} not applied; ${sum((l) => l.events)} events seen and kept`,
    );
    for (const l of lanes) {
      expect(l.acknowledged).toBeGreaterThan(l.cycles);
      expect(l.events).toBeGreaterThan(0);
    }
  });
});

interface LaneOptions {
  root: string;
  cycles: number;
  seed: number;
  photos: readonly Photo[];
  clip: string;
  /** Servers running (for the file's clean-up). */
  servers: Set<ServerProcess>;
}

async function runLane({ root, cycles, seed, photos, clip, servers }: LaneOptions): Promise<Figures> {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  await mkdir(join(root, 'people'));
  const env = {
    FACEBANK_DIR: join(root, 'people'),
    DATABASE_PATH: join(root, 'facerec.db'),
    POOL_SIZE: '1',
    INTRA_OP_THREADS: '1',
    EXECUTION_PROVIDER: 'cpu',
    MAX_DETECT_FPS: '5',
    PREVIEW_FPS: '0',
  };
  const sources = new Set(photos.map((p) => p.sha256));
  let state: State = new Map();
  const events = new Map<number, SeenEvent>();
  const cropsRead = new Set<number>();
  let nextName = 0;
  const figures: Figures = {
    cycles,
    killedStarting: 0,
    acknowledged: 0,
    refused: 0,
    inFlightApplied: 0,
    inFlightNotApplied: 0,
    events: 0,
    cycleMs: [],
  };
  const spawn = () => {
    const proc = spawnServer({ env });
    servers.add(proc);
    void proc.exited.then(() => servers.delete(proc));
    return proc;
  };

  /** The folders as they are: person → hashes; fails on any visible file that is not a whole source image. */
  const readFolders = async (): Promise<State> => {
    const s: State = new Map();
    for (const entry of await readdir(join(root, 'people'), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      expect(entry.isDirectory(), `${entry.name} is a folder`).toBe(true);
      const files: string[] = [];
      for (const f of await readdir(join(root, 'people', entry.name))) {
        if (f.startsWith('.')) continue; // temp names: hidden from the scan, removed at the next start
        const h = sha(await readFile(join(root, 'people', entry.name, f)));
        expect(sources.has(h), `${entry.name}/${f} is a whole photo (not half-written)`).toBe(true);
        files.push(h);
      }
      s.set(entry.name, files.sort());
    }
    return s;
  };

  /** After a restart: everything acknowledged is there, and the folders, API, cache and events agree. */
  const checkRestarted = async (url: string, cycle: number) => {
    const folders = await readFolders();
    expect(same(folders, state), `cycle ${cycle}: folders ${show(folders)} vs acknowledged ${show(state)}`).toBe(true);
    const people = (await (await fetch(`${url}/api/people`)).json()) as {
      name: string;
      images: { file: string; sha256: string; status: string }[];
    }[];
    const listed: State = new Map(people.map((p) => [p.name, p.images.map((i) => i.sha256).sort()]));
    expect(show(listed), `cycle ${cycle}: the API lists the folders`).toBe(show(folders));
    for (const p of people) for (const i of p.images) expect(i.status).not.toBe('invalid_image');
    checkCache(join(root, 'facerec.db'), folders);
    await checkEvents(url, events, cropsRead);
  };

  for (let cycle = 0; cycle < cycles; cycle++) {
    const cycleStart = performance.now();
    const proc = spawn();
    if (cycle > 0 && random() < KILL_WHILE_STARTING) {
      // Killed while starting (or, on a fast machine, just after): the scan, the removal of leftovers and the
      // cache's rebuild are interrupted too.
      await sleep(random() * 2500);
      await proc.kill();
      figures.killedStarting++;
      expect(same(await readFolders(), state), 'a start-up killed changes nothing').toBe(true);
      figures.cycleMs.push(performance.now() - cycleStart);
      continue;
    }
    const url = await proc.listeningWithin(START_WITHIN_MS);
    await checkRestarted(url, cycle);
    if (cycle === 0) {
      const res = await fetch(`${url}/api/cameras`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'door', url: clip, maxDetectFps: 5 }),
      });
      expect(res.status).toBe(201);
    }

    // ---- drive: one operation at a time, the events polled alongside, until the kill
    let alive = true;
    const killed = (async () => {
      // The first life lasts until the camera's first event is listed, so every run kills with events stored.
      const firstEvent = performance.now() + FIRST_EVENT_WITHIN_MS;
      while (cycle === 0 && events.size === 0 && performance.now() < firstEvent) await sleep(100);
      await sleep(lifeMs(random));
      alive = false;
      await proc.kill();
    })();
    const poll = (async () => {
      while (alive) {
        try {
          const res = await fetch(`${url}/api/events?limit=100`);
          if (res.ok) for (const e of (await res.json()) as SeenEvent[]) events.set(e.id, e);
        } catch {
          // killed
        }
        await sleep(200);
      }
    })();
    let inFlight: Op | undefined;
    while (alive) {
      const op = nextOp(state, random, pick, photos, () => `p${nextName++}`);
      inFlight = op;
      let status: number;
      let body = '';
      try {
        const res = await send(url, op);
        status = res.status;
        if (status >= 500) {
          body = await res.text();
          await sleep(100);
          body += `\n${proc.problems
            .filter((l) => l.level >= 50)
            .map((l) => l.raw)
            .join('\n')}`;
        }
      } catch {
        break; // killed with this operation in flight
      }
      inFlight = undefined;
      if (status >= 200 && status < 300) {
        state = applied(state, op);
        figures.acknowledged++;
      } else {
        expect(status, `${op.kind} answered ${status} ${body}`).toBeLessThan(500);
        figures.refused++;
      }
    }
    await killed;
    await poll;

    // ---- after the kill, before the restart: nothing half-written is visible; in flight: all or nothing
    const after = await readFolders();
    if (inFlight !== undefined && !same(after, state)) {
      const whole = applied(state, inFlight);
      expect(
        same(after, whole),
        `cycle ${cycle}: ${inFlight.kind} in flight left ${show(after)}; before ${show(state)}, after ${show(whole)}`,
      ).toBe(true);
      state = whole;
      figures.inFlightApplied++;
    } else {
      expect(same(after, state), `cycle ${cycle}: folders ${show(after)} vs acknowledged ${show(state)}`).toBe(true);
      if (inFlight !== undefined) figures.inFlightNotApplied++;
    }
    figures.cycleMs.push(performance.now() - cycleStart);
  }

  // A last start: the state after the final kill is checked like every other.
  const last = spawn();
  await checkRestarted(await last.listeningWithin(START_WITHIN_MS), cycles);
  await last.kill();
  figures.events = events.size;
  return figures;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function lifeMs(random: () => number): number {
  const [from, to] = random() < LONG_LIVES ? LONG_LIFE_MS : SHORT_LIFE_MS;
  return from + random() * (to - from);
}

function nextOp(
  state: State,
  random: () => number,
  pick: <T>(xs: readonly T[]) => T,
  photos: readonly Photo[],
  newName: () => string,
): Op {
  const people = [...state.keys()];
  const r = random();
  // About ten people at a time: enough to rename and delete among, few enough that checks stay cheap.
  if (people.length < 3 || r < 0.45) {
    const person = people.length > 0 && random() < 0.7 ? pick(people) : newName();
    return { kind: 'enrol', person, photo: pick(photos) };
  }
  if (r < 0.65) return { kind: 'rename', person: pick(people), to: newName() };
  if (r < 0.9 && people.length > 8) return { kind: 'delete', person: pick(people) };
  return { kind: 'create', person: newName() };
}

function send(url: string, op: Op): Promise<Response> {
  const json = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  switch (op.kind) {
    case 'enrol':
      return json('POST', `/api/people/${op.person}/images`, {
        file: op.photo.bytes.toString('base64'),
        filename: op.photo.name,
      });
    case 'create':
      return json('POST', '/api/people', { name: op.person });
    case 'rename':
      return json('PATCH', `/api/people/${op.person}`, { name: op.to });
    case 'delete':
      return json('DELETE', `/api/people/${op.person}`);
  }
}

/** The SQLite file opens (read-only, beside the running server), is intact, and indexes exactly the folders. */
function checkCache(path: string, folders: State): void {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    expect(db.pragma('quick_check', { simple: true })).toBe('ok');
    const rows = db.prepare<[], { person: string; sha256: string }>('SELECT person, sha256 FROM facebank_files').all();
    const indexed: State = new Map([...folders.keys()].map((p) => [p, []]));
    for (const r of rows) {
      if (!indexed.has(r.person)) indexed.set(r.person, []);
      indexed.get(r.person)!.push(r.sha256);
    }
    for (const files of indexed.values()) files.sort();
    expect(show(indexed), 'the cache indexes the folders').toBe(show(folders));
    const analysed = db.prepare<[string], { n: number }>(
      'SELECT COUNT(*) AS n FROM facebank_analyses WHERE sha256 = ?',
    );
    for (const files of folders.values()) for (const h of files) expect(analysed.get(h)?.n).toBeGreaterThan(0);
  } finally {
    db.close();
  }
}

/** Every event the API returned before a kill is still listed, unchanged, with a readable crop when it had one. */
async function checkEvents(url: string, seen: Map<number, SeenEvent>, cropsRead: Set<number>): Promise<void> {
  if (seen.size === 0) return;
  const listed = new Map<number, SeenEvent>();
  let before: number | undefined;
  for (;;) {
    const res = await fetch(`${url}/api/events?limit=1000${before === undefined ? '' : `&before=${before}`}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as SeenEvent[];
    for (const e of page) listed.set(e.id, e);
    if (page.length < 1000) break;
    before = page.at(-1)!.id;
  }
  for (const [id, e] of seen) {
    expect(listed.get(id), `event ${id} is kept`).toEqual(e);
    // Each crop is decoded once: a stored blob does not change, and its event is checked every cycle.
    if (e.cropUrl !== null && !cropsRead.has(id)) {
      const res = await fetch(`${url}${e.cropUrl}`);
      expect(res.status, `event ${id}'s crop`).toBe(200);
      const jpeg = sharp(Buffer.from(await res.arrayBuffer()), { failOn: 'truncated' });
      expect((await jpeg.metadata()).format).toBe('jpeg');
      await jpeg.raw().toBuffer();
      cropsRead.add(id);
    }
  }
}
