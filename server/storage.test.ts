// Full and read-only storage, on a real filesystem: the data directory (database and facebank) is a 4 MB tmpfs
// mounted by this test, filled with a file until no block is left, then emptied again; the facebank folder is
// also a bind mount of itself, so it can be made read-only while the database (held open by the server) stays
// writable: Linux refuses to remount a filesystem read-only while a file on it is open for writing (EBUSY).
// The real server, real models and a file camera playing a clip of enrolled people.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm, statfs, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../facebank/storageError.ts';
import { EventsStore, MAX_EVENT_CROPS } from '../streams/events.ts';
import type { Detections } from '../streams/types.ts';
import { makePeopleClip, type TempClip } from '../test/support/clips.ts';
import { startTestServer, type TestServer } from '../test/support/server.ts';
import { PEOPLE, type Person, personImage } from '../test/support/testdata.ts';
import { until } from '../test/support/waits.ts';

const ENROLLED: Person[] = ['penny', 'raj'];

function run(cmd: string, ...args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Mounts a tmpfs of `size`; a refusal says what the test needs. */
function mountTmpfs(dir: string, size: string): void {
  try {
    run('mount', '-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir);
  } catch (err) {
    const said = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim();
    throw new Error(
      `this test mounts a small tmpfs as the data directory and needs root (or CAP_SYS_ADMIN) to do so; mount said: ${said}`,
    );
  }
}

function unmount(dir: string): void {
  try {
    run('umount', dir);
  } catch {
    // Not mounted (setup failed before) or already unmounted.
  }
}

/** Appends to `file` until the filesystem has no block left. */
async function fill(file: string): Promise<void> {
  const fh = await open(file, 'a');
  try {
    for (const size of [256 * 1024, 4096]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          await fh.write(chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    await fh.close();
  }
}

const waitFor = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms: number) =>
  until(what, probe, ms, 100);

interface Answer<T> {
  status: number;
  body: T;
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

interface ErrorBody {
  error: string;
  message: string;
}
interface EventsHealth {
  dropped: number;
  byProblem: { full: number; unwritable: number };
  byCamera: Record<string, number>;
  dropping: boolean;
  lastDropAt?: number;
}

/** Every entry under `dir`, recursively, as relative paths (dotfiles included). */
async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    out.push(`${prefix}${e.name}`);
    if (e.isDirectory()) out.push(...(await tree(join(dir, e.name), `${prefix}${e.name}/`)));
  }
  return out.sort();
}

describe('full and read-only storage (a 4 MB tmpfs as the data directory, real server, file camera)', () => {
  let root = '';
  let data = '';
  let people = '';
  let filler = '';
  let clip: TempClip | undefined;
  let server: TestServer | undefined;
  let socket: Socket | undefined;
  let cameraId = '';
  const detections: { at: number; d: Detections }[] = [];

  const enrol = async (person: Person) => {
    const file = (await readFile(personImage(person, 1))).toString('base64');
    return api<ErrorBody | { file: string }[]>(server!.url, 'POST', `/api/people/${person}/images`, { file });
  };
  const health = async () => (await api<{ events: EventsHealth }>(server!.url, 'GET', '/api/health')).body.events;
  const eventIds = async () =>
    (await api<{ id: number }[]>(server!.url, 'GET', `/api/events?camera=${cameraId}&limit=1000`)).body.map(
      (e) => e.id,
    );
  const detectionsSince = (t: number) => detections.filter((x) => x.at > t).length;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'facerec-storage-'));
    data = join(root, 'data');
    people = join(data, 'people');
    filler = join(data, 'filler');
    await mkdir(data);
    mountTmpfs(data, '4m');
    await mkdir(people);
    run('mount', '--bind', people, people);
    for (const person of ENROLLED) {
      await mkdir(join(people, person));
      await copyFile(personImage(person, 1), join(people, person, `${person}1.png`));
    }
    // Eight people, 2 s each: everyone is away for longer than the tracker's 10-s cooldown between two
    // appearances, so every loop makes new visits (events) without end.
    clip = await makePeopleClip([...PEOPLE], { secondsPerImage: 2 });
    server = await startTestServer({
      config: { facebankDir: people, databasePath: join(data, 'facerec.db'), watchFacebank: true },
      printLevel: 'error',
    });
    socket = io(server.url, { transports: ['websocket'] });
    socket.on('detections', (d: Detections) => detections.push({ at: Date.now(), d }));
    await new Promise<void>((ok) => socket!.emit('subscribe', { cameras: ['*'] }, () => ok()));
    const added = await api<{ id: string }>(server.url, 'POST', '/api/cameras', { name: 'door', url: clip.path });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    cameraId = added.body.id;
    // Stored while there is room, a stranger's visit among them (for the unknown-faces gallery below).
    await waitFor(
      'a stored visit by an Unknown',
      async () => {
        const unknown = await api<unknown[]>(server!.url, 'GET', `/api/events?camera=${cameraId}&name=Unknown`);
        return unknown.body.length > 0 || undefined;
      },
      30_000,
    );
  });

  afterAll(async () => {
    socket?.close();
    await server?.close();
    await clip?.remove();
    if (people) unmount(people);
    if (data) unmount(data);
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('full: enrolment answers 507 storage_full and leaves nothing; events are dropped and counted while detection goes on', async () => {
    await fill(filler);
    expect((await statfs(data)).bavail).toBe(0);
    const before = await tree(people);

    const refused = await enrol('sheldon');
    expect(refused.status, JSON.stringify(refused.body)).toBe(507);
    expect(refused.body).toMatchObject({ error: 'storage_full' });
    expect((refused.body as ErrorBody).message).toMatch(/could not save the photo of "sheldon": the storage is full/);
    // Not half-created: not in the facebank, no folder, no temporary file anywhere.
    expect((await api(server!.url, 'GET', '/api/people/sheldon')).status).toBe(404);
    expect(existsSync(join(people, 'sheldon'))).toBe(false);
    expect(await tree(people)).toEqual(before);
    // A rename whose database update fails puts the folder's old name back.
    const rename = await api<ErrorBody>(server!.url, 'PATCH', '/api/people/penny', { name: 'penelope' });
    expect(rename.status, JSON.stringify(rename.body)).toBe(507);
    expect(rename.body.error).toBe('storage_full');
    expect((await api<{ name: string }[]>(server!.url, 'GET', '/api/people')).body.map((p) => p.name)).toEqual(
      ENROLLED,
    );
    expect(await tree(people)).toEqual(before);

    // Events: dropped and counted, live detections still pushed, the camera still live.
    const fullAt = Date.now();
    const dropping = await waitFor(
      'dropped events',
      async () => {
        const h = await health();
        return h.dropped >= 2 ? h : undefined;
      },
      30_000,
    );
    expect(dropping).toMatchObject({ dropping: true, byProblem: { unwritable: 0 } });
    expect(dropping.byCamera[cameraId]).toBe(dropping.dropped);
    // Detection goes on: detections keep being pushed after the drops.
    const droppedAt = dropping.lastDropAt ?? Number.POSITIVE_INFINITY;
    await waitFor(
      '3 detections pushed after an event was dropped',
      () => detectionsSince(droppedAt) >= 3 || undefined,
      20_000,
    );
    const camera = await api<{ health: { state: string; eventsDropped?: number } }>(
      server!.url,
      'GET',
      `/api/cameras/${cameraId}`,
    );
    expect(camera.body.health.state).toBe('live');
    expect(camera.body.health.eventsDropped).toBeGreaterThanOrEqual(dropping.dropped);

    const metrics = await (await fetch(`${server!.url}/metrics`)).text();
    const counted = Number(/^facerec_events_dropped_total\{reason="full"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(counted).toBeGreaterThanOrEqual(dropping.dropped);

    // A read that caches what it computes (the gallery embeds the crops of unknown visits) is still answered.
    const unknowns = await api<unknown[]>(server!.url, 'GET', '/api/unknowns');
    expect(unknowns.status, JSON.stringify(unknowns.body)).toBe(200);
    expect(unknowns.body.length).toBeGreaterThan(0);

    // Logged per streak, not per event.
    const logs = server!.logs;
    expect(logs.filter((r) => r.msg.startsWith('events cannot be stored'))).toHaveLength(1);
    expect(logs.filter((r) => r.msg === 'storing a person event failed')).toHaveLength(0);
    console.log(
      `disk full: ${dropping.dropped} events dropped, ${detectionsSince(fullAt)} detections pushed meanwhile`,
    );
  });

  it('a restart on full storage: the server starts with its facebank, and its camera goes on dropping events', async () => {
    await server!.restart();
    // Closing may have checkpointed the database and freed its WAL file: full again.
    await fill(filler);
    expect((await statfs(data)).bavail).toBe(0);
    const people = await api<{ name: string }[]>(server!.url, 'GET', '/api/people');
    expect(people.body.map((p) => p.name)).toEqual(ENROLLED);
    await waitFor(
      'events dropped after the restart',
      async () => ((await health()).dropped >= 1 ? true : undefined),
      30_000,
    );
  });

  it('space back: enrolment works and events are stored again, by themselves', async () => {
    const lastId = Math.max(...(await eventIds()));
    await unlink(filler);
    const enrolled = await enrol('sheldon');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const person = await api<{ images: { status: string }[] }>(server!.url, 'GET', '/api/people/sheldon');
    expect(person.body.images.map((i) => i.status)).toEqual(['embedded']);
    await waitFor(
      'an event stored after the space came back',
      async () => {
        const ids = await eventIds();
        return ids.some((id) => id > lastId) || undefined;
      },
      30_000,
    );
    expect((await health()).dropping).toBe(false);
    expect(server!.logs.filter((r) => r.msg.startsWith('events are stored again'))).toHaveLength(1);
  });

  it('read-only facebank: enrolment and removal answer 507 storage_unwritable and change nothing; writable again, they work', async () => {
    const before = await tree(people);
    run('mount', '-o', 'remount,bind,ro', people);
    try {
      const refused = await enrol('leonard');
      expect(refused.status, JSON.stringify(refused.body)).toBe(507);
      expect(refused.body).toMatchObject({ error: 'storage_unwritable' });
      expect((refused.body as ErrorBody).message).toMatch(
        /could not save the photo of "leonard": the storage is read-only/,
      );
      expect((await api(server!.url, 'GET', '/api/people/leonard')).status).toBe(404);

      const file = (await api<{ images: { file: string }[] }>(server!.url, 'GET', '/api/people/sheldon')).body
        .images[0]!.file;
      const removal = await api<ErrorBody>(server!.url, 'DELETE', `/api/people/sheldon/images/${file}`);
      expect(removal.status, JSON.stringify(removal.body)).toBe(507);
      expect(removal.body.error).toBe('storage_unwritable');
      const still = await api<{ images: { file: string }[] }>(server!.url, 'GET', '/api/people/sheldon');
      expect(still.body.images.map((i) => i.file)).toEqual([file]);
      expect(await tree(people)).toEqual(before);
    } finally {
      run('mount', '-o', 'remount,bind,rw', people);
    }
    const enrolled = await enrol('leonard');
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
  });
});

describe('events on a read-only filesystem (real SQLite, a tmpfs remounted read-only)', () => {
  let dir = '';
  let db: Database.Database | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'facerec-events-ro-'));
    mountTmpfs(dir, '1m');
  });
  afterAll(async () => {
    db?.close();
    unmount(dir);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('drops and counts an event it cannot store, with a StorageError, and keeps what was stored', () => {
    const path = join(dir, 'events.db');
    const rw = new Database(path);
    const first = new EventsStore(rw, { maxCrops: MAX_EVENT_CROPS, retentionDays: 30 });
    const event = { type: 'person_appeared' as const, cameraId: 'cam', trackId: 1, name: 'penny', score: 0.8, at: 1 };
    const stored = first.insert(event);
    first.close();
    rw.close();
    // Nothing is open for writing any more, so the kernel lets the filesystem become read-only.
    run('mount', '-o', 'remount,ro', dir);
    db = new Database(path);
    const store = new EventsStore(db, { maxCrops: MAX_EVENT_CROPS, retentionDays: 30 });
    let thrown: unknown;
    try {
      store.insert({ ...event, trackId: 2 });
    } catch (err) {
      thrown = err;
    }
    store.close();
    expect(thrown).toBeInstanceOf(StorageError);
    expect((thrown as StorageError).problem).toBe('unwritable');
    expect(store.drops.stats()).toMatchObject({ dropped: 1, byProblem: { full: 0, unwritable: 1 }, dropping: true });
    expect(store.list({ limit: 10 }).map((e) => e.id)).toEqual([stored]);
  });
});
