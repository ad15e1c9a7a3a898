// The server over real HTTP (fetch against 127.0.0.1), with the real models and the test photos.
// Three servers: one with the eight people enrolled (recognition, bad input, health, the watcher), one with
// tight limits and an API key (413, pixel limit, queue full, auth), one empty (enrolment over HTTP, restart).
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { blur } from '../test/support/degrade.ts';
import { type TestServer, useTestServer } from '../test/support/server.ts';
import { LFW_DEV_DIR, PEOPLE, type Person, personImage, SCENES } from '../test/support/testdata.ts';
import { until } from '../test/support/waits.ts';
import { fromOwnPage, isLocal } from './auth.ts';

// ---- helpers

interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

interface RecBody {
  names: string[] | null;
  bboxes: number[][] | null;
  scores: number[] | null;
}

interface ErrorBody {
  error: string;
  message: string;
}

interface ImageBody {
  person: string;
  file: string;
  status: string;
  message?: string;
  sha256: string;
}

interface PersonBody {
  name: string;
  images: ImageBody[];
}

interface Init {
  json?: unknown;
  body?: string | FormData;
  headers?: Record<string, string>;
}

async function request<T = unknown>(base: string, method: string, path: string, init: Init = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = {
    ...(init.json === undefined ? {} : { 'content-type': 'application/json' }),
    ...init.headers,
  };
  const body = init.json === undefined ? init.body : JSON.stringify(init.json);
  const res = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  const json = /\bjson\b/.test(res.headers.get('content-type') ?? '') && text !== '';
  return { status: res.status, headers: res.headers, body: (json ? JSON.parse(text) : text) as T };
}

const photos = new Map<string, Promise<Buffer>>();
/** Reads a test photo once (in place: test photos are never copied outside the servers' temp folders). */
function photo(path: string): Promise<Buffer> {
  let p = photos.get(path);
  if (p === undefined) {
    p = readFile(path);
    photos.set(path, p);
  }
  return p;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

async function rec(server: TestServer, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<RecBody> {
  const r = await request<RecBody>(server.url, 'POST', '/rec', { json: { file: b64(bytes) }, headers });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

function expectError(r: Reply, status: number, code: string): void {
  const body = r.body as ErrorBody;
  expect({ status: r.status, error: body.error }, JSON.stringify(r.body)).toEqual({ status, error: code });
  expect(Object.keys(body).sort()).toEqual(['error', 'message']);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
}

/** A good request right after a bad one still succeeds. */
async function expectStillServing(server: TestServer, headers: Record<string, string> = {}): Promise<void> {
  const r = await rec(server, await photo(personImage('penny', 3)), headers);
  expect(r.names?.length).toBe(1);
}

async function filesOnDisk(server: TestServer, person: string): Promise<string[]> {
  return (await readdir(join(server.dirs.facebank, person))).filter((f) => !f.startsWith('.')).sort();
}

const enc = encodeURIComponent;

const ENROLLED = PEOPLE.flatMap((person) => [1, 2].map((n) => ({ person, src: personImage(person, n) })));

// ---- the server with the eight people enrolled

describe('recognition server (8 people, images 1–2 enrolled, watcher on)', () => {
  const server = useTestServer({ facebank: ENROLLED });

  it('names at least 22 of the 24 held-out photos (images 3–5) through POST /rec, in the documented shape', async () => {
    let correct = 0;
    const misses: string[] = [];
    for (const person of PEOPLE) {
      for (const n of [3, 4, 5]) {
        const body = await rec(server, await photo(personImage(person, n)));
        expect(Object.keys(body).sort()).toEqual(['bboxes', 'names', 'scores']);
        const names = body.names ?? [];
        if (body.names === null) expect(body).toEqual({ names: null, bboxes: null, scores: null });
        else {
          expect(body.bboxes).toHaveLength(names.length);
          expect(body.scores).toHaveLength(names.length);
        }
        for (const box of body.bboxes ?? []) {
          expect(box).toHaveLength(4);
          for (const v of box) expect(Number.isFinite(v)).toBe(true);
          expect(box[2]!).toBeGreaterThan(box[0]!);
          expect(box[3]!).toBeGreaterThan(box[1]!);
        }
        for (const s of body.scores ?? []) expect(typeof s).toBe('number');
        for (const name of names) expect(typeof name).toBe('string');
        if (names[0] === person) correct++;
        else misses.push(`${person}${n} → ${names[0] ?? 'no face'} (score ${body.scores?.[0]})`);
      }
    }
    console.log(`POST /rec: ${correct}/24 held-out photos named correctly; misses: ${misses.join(', ') || 'none'}`);
    expect(correct).toBeGreaterThanOrEqual(22);
  });

  it('accepts a data: URL, and answers /id_info exactly as /rec', async () => {
    const bytes = await photo(personImage('sheldon', 4));
    const plain = await rec(server, bytes);
    const dataUrl = await request<RecBody>(server.url, 'POST', '/rec', {
      json: { file: `data:image/png;base64,${b64(bytes)}` },
    });
    expect(dataUrl.status).toBe(200);
    expect(dataUrl.body).toEqual(plain);
    const idInfo = await request<RecBody>(server.url, 'POST', '/id_info', { json: { file: b64(bytes) } });
    expect(idInfo.status).toBe(200);
    expect(idInfo.body).toEqual(plain);
  });

  it('answers null fields with 200 when there is no face', async () => {
    const grey = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const r = await request<RecBody>(server.url, 'POST', '/rec', { json: { file: b64(grey) } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ names: null, bboxes: null, scores: null });
  });

  it('names several faces in the group photos', async () => {
    const perScene: string[] = [];
    let scenesWithTwo = 0;
    for (const [i, scene] of SCENES.entries()) {
      const body = await rec(server, await photo(scene));
      const names = body.names ?? [];
      const named = names.filter((n) => n !== 'Unknown');
      for (const n of named) expect(PEOPLE as readonly string[]).toContain(n);
      if (named.length >= 2) scenesWithTwo++;
      perScene.push(`bbt${i + 1}: ${names.length} faces, ${named.length} named [${named.join(', ')}]`);
    }
    console.log(`group photos:\n  ${perScene.join('\n  ')}\n  scenes with ≥ 2 named faces: ${scenesWithTwo}/5`);
    expect(scenesWithTwo).toBeGreaterThanOrEqual(3);
  });

  describe('bad input: a JSON error with its status, and the next good request succeeds', () => {
    const cases: {
      what: string;
      status: number;
      code: string;
      make: () => Promise<Init & { path?: string }>;
    }[] = [
      {
        what: 'invalid base64',
        status: 400,
        code: 'invalid_base64',
        make: async () => ({ json: { file: 'this is *not* base64!' } }),
      },
      {
        what: 'an empty body',
        status: 400,
        code: 'empty_body',
        make: async () => ({ body: '', headers: { 'content-type': 'application/json' } }),
      },
      { what: 'an empty image', status: 400, code: 'empty_image', make: async () => ({ json: { file: '' } }) },
      {
        what: 'no file field',
        status: 400,
        code: 'invalid_request',
        make: async () => ({ json: { image: 'abcd' } }),
      },
      {
        what: 'bytes that are not an image',
        status: 400,
        code: 'invalid_image',
        make: async () => ({
          json: { file: b64(Buffer.from('just some text, certainly not a picture\n'.repeat(20))) },
        }),
      },
      {
        what: 'a truncated JPEG',
        status: 400,
        code: 'truncated_image',
        make: async () => {
          const jpeg = await photo(SCENES[3]!);
          return { json: { file: b64(jpeg.subarray(0, jpeg.length / 2)) } };
        },
      },
      {
        what: 'invalid JSON',
        status: 400,
        code: 'invalid_json',
        make: async () => ({ body: '{"file": "abc', headers: { 'content-type': 'application/json' } }),
      },
      {
        what: 'Content-Type text/plain',
        status: 415,
        code: 'unsupported_media_type',
        make: async () => ({
          body: JSON.stringify({ file: b64(await photo(personImage('amy', 3))) }),
          headers: { 'content-type': 'text/plain' },
        }),
      },
      {
        what: 'an unknown route',
        status: 404,
        code: 'not_found',
        make: async () => ({ path: '/no/such/route', json: { file: 'abcd' } }),
      },
    ];
    it.each(cases)('$what → $status $code', async ({ status, code, make }) => {
      const { path = '/rec', ...init } = await make();
      expectError(await request(server.url, 'POST', path, init), status, code);
      await expectStillServing(server);
    });
  });

  it('GET /api/health reports the provider, the models, the facebank and the queue', async () => {
    const r = await request<Record<string, unknown>>(server.url, 'GET', '/api/health');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      status: 'ok',
      provider: 'cpu',
      modelsLoaded: true,
      workers: 2,
      queueDepth: 0,
      facebank: { people: 8, images: 16, templates: 16 },
      operatingPoint: { source: 'calibration', fpir: 0.01, people: 8 },
      // No REDIS_URL: one node, no Redis; no DATABASE_URL: no cluster.
      redis: { enabled: false },
      cluster: { enabled: false },
    });
    const op = (r.body as { operatingPoint: { threshold: number; reason: string } }).operatingPoint;
    expect(r.body.threshold).toBe(op.threshold);
    expect(op.reason).toBe("FPIR 1% at 8 people: the model's calibration");
  });

  it('GET /metrics exposes request counts and the queue depth', async () => {
    const r = await request<string>(server.url, 'GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(r.body).toContain('facerec_http_requests_total');
    expect(r.body).toMatch(/facerec_http_requests_total\{[^}]*route="\/rec"[^}]*\} \d+/);
    expect(r.body).toMatch(/^facerec_inference_queue_depth \d+$/m);
    // One node: no cluster series.
    expect(r.body).not.toContain('facerec_cluster_');
  });

  it('GET /api/openapi.json is an OpenAPI 3.1 document of the routes', async () => {
    const r = await request<{
      openapi: string;
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>(server.url, 'GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\.1\./);
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining(['/rec', '/id_info', '/api/recognize', '/api/people/{name}/images']),
    );
    expect(r.body.components.schemas.RecRequest).toBeDefined();
    // The cluster's part of the health check, from its zod schema.
    expect(JSON.stringify(r.body.components.schemas.Health)).toContain('leaseRemainingMs');
  });

  it('POST /api/recognize returns boxes, five landmarks, name, candidate, similarity, margin and timings', async () => {
    const r = await request<{
      width: number;
      height: number;
      threshold: number;
      faces: Record<string, unknown>[];
      timings: Record<string, number>;
    }>(server.url, 'POST', '/api/recognize', { json: { file: b64(await photo(personImage('leonard', 5))) } });
    expect(r.status).toBe(200);
    // The threshold derived for FPIR 1% at 8 people from the model's calibration (no MATCH_THRESHOLD set).
    expect(r.body).toMatchObject({ width: 150, height: 150, threshold: expect.closeTo(0.44, 1) });
    expect(r.body.faces).toHaveLength(1);
    const face = r.body.faces[0]!;
    expect(face).toMatchObject({ name: 'leonard', candidate: 'leonard' });
    expect(face.box).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)]);
    expect(face.landmarks).toHaveLength(5);
    for (const point of face.landmarks as unknown[]) expect(point).toEqual([expect.any(Number), expect.any(Number)]);
    expect(face.similarity).toBeGreaterThanOrEqual(r.body.threshold);
    expect(typeof face.margin).toBe('number');
    expect(typeof face.detectionScore).toBe('number');
    expect(Object.keys(r.body.timings)).toEqual(expect.arrayContaining(['embed', 'match']));
    for (const ms of Object.values(r.body.timings)) expect(ms).toBeGreaterThanOrEqual(0);

    // The same as multipart/form-data.
    const form = new FormData();
    form.append('file', new Blob([await photo(personImage('leonard', 5))], { type: 'image/png' }), 'leonard.png');
    const multipart = await request<typeof r.body>(server.url, 'POST', '/api/recognize', { body: form });
    expect(multipart.status).toBe(200);
    expect(multipart.body.faces.map((f) => f.name)).toEqual(['leonard']);
  });

  it('a poor face: /api/recognize says Unknown because of poor_quality and why; /rec just says Unknown', async () => {
    type Face = { name: string; candidate: string; unknownReason?: string; quality: Record<string, unknown> };
    const recognize = async (bytes: Uint8Array) => {
      const r = await request<{ minFaceQuality: number; faces: Face[] }>(server.url, 'POST', '/api/recognize', {
        json: { file: b64(bytes) },
      });
      expect(r.status).toBe(200);
      expect(r.body.minFaceQuality).toBe(server.config.minFaceQuality);
      return r.body.faces;
    };
    const good = await recognize(await photo(personImage('leonard', 5)));
    expect(good).toMatchObject([{ name: 'leonard', quality: { verdict: 'ok', reasons: [] } }]);
    expect(good[0]!.unknownReason).toBeUndefined();
    expect(Object.keys(good[0]!.quality).sort()).toEqual(
      ['blur', 'interOcular', 'pitch', 'reasons', 'roll', 'score', 'verdict', 'yaw'].sort(),
    );

    const blurred = await blur(await photo(personImage('leonard', 5)), 4);
    const poor = await recognize(blurred);
    expect(poor).toHaveLength(1);
    expect(poor[0]).toMatchObject({ name: 'Unknown', unknownReason: 'poor_quality', quality: { verdict: 'poor' } });
    expect(poor[0]!.quality.reasons).toContain('blurred');
    console.log(`blurred leonard5: candidate ${poor[0]!.candidate}, quality ${JSON.stringify(poor[0]!.quality)}`);

    const body = await rec(server, blurred);
    expect(Object.keys(body).sort()).toEqual(['bboxes', 'names', 'scores']);
    expect(body.names).toEqual(['Unknown']);
  });

  it('a stranger is Unknown because nobody matched (no_match)', async () => {
    const lfw = await photo(`${LFW_DEV_DIR}images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg`);
    const r = await request<{ faces: { name: string; unknownReason?: string }[] }>(
      server.url,
      'POST',
      '/api/recognize',
      { json: { file: b64(lfw) } },
    );
    expect(r.body.faces[0]).toMatchObject({ name: 'Unknown', unknownReason: 'no_match' });
  });

  // Last: it changes the facebank.
  it('forgets a person whose folder is removed from disk while it runs', async () => {
    const gone: Person = 'raj';
    const health = async () =>
      (await request<{ facebank: { people: number; images: number } }>(server.url, 'GET', '/api/health')).body;
    expect((await health()).facebank.people).toBe(8);
    const rescanned = new Promise<void>((ok) => {
      const onChange = () => {
        if (server.runtime.facebank.stats().people === 7) {
          server.runtime.facebank.off('changed', onChange);
          ok();
        }
      };
      server.runtime.facebank.on('changed', onChange);
    });

    await rm(join(server.dirs.facebank, gone), { recursive: true });
    await rescanned;
    await until('the health check to show 7 people', async () => (await health()).facebank.people === 7, 15_000, 100);
    expect((await health()).facebank.images).toBe(14);
    expect(server.runtime.facebank.people().map((p) => p.name)).not.toContain(gone);

    const answers: string[] = [];
    for (const n of [3, 4, 5]) {
      const body = await rec(server, await photo(personImage(gone, n)));
      answers.push(`${body.names?.[0] ?? 'no face'} (${body.scores?.[0]})`);
    }
    console.log(`after removing ${gone}/ from disk, ${gone}3–5 are named: ${answers.join(', ')}`);
    expect(answers.filter((a) => a.startsWith('Unknown ')).length).toBeGreaterThanOrEqual(2);
  });
});

// ---- tight limits, a small pool and an API key

describe('limits, overload and API keys (body limit 1 MB, pool 1, queue 1, API key set)', () => {
  const KEY = 'secret-key-123';
  const server = useTestServer({
    config: { apiKey: KEY, bodyLimitBytes: 1024 * 1024, poolSize: 1, maxQueue: 1 },
    printLevel: 'error',
  });

  it('refuses a body over the limit with 413 payload_too_large', async () => {
    const big = JSON.stringify({ file: 'A'.repeat(2 * 1024 * 1024) });
    expectError(
      await request(server.url, 'POST', '/rec', { body: big, headers: { 'content-type': 'application/json' } }),
      413,
      'payload_too_large',
    );
    await expectStillServing(server);
  });

  it('answers 503 with Retry-After when the queue is full, and 200 to the rest', async () => {
    const file = b64(await photo(SCENES[0]!)); // 1366×768: long enough for the others to pile up
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => request<RecBody | ErrorBody>(server.url, 'POST', '/rec', { json: { file } })),
    );
    const statuses = replies.map((r) => r.status);
    console.log(`10 concurrent /rec on pool 1 / queue 1: ${statuses.join(' ')}`);
    const refused = replies.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expectError(r, 503, 'overloaded');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(replies.filter((r) => r.status !== 503).map((r) => r.status)).toEqual(Array(10 - refused.length).fill(200));
    expect(refused.length).toBeLessThanOrEqual(8);
    await expectStillServing(server);
  });

  it('needs the key for writes (X-API-Key or Bearer) and for facebank reads (names, photos), not for recognition', async () => {
    expectError(await request(server.url, 'POST', '/api/people', { json: { name: 'alice' } }), 401, 'unauthorized');
    expectError(
      await request(server.url, 'POST', '/api/people', {
        json: { name: 'alice' },
        headers: { 'x-api-key': 'wrong-key-456' },
      }),
      401,
      'unauthorized',
    );
    const created = await request(server.url, 'POST', '/api/people', {
      json: { name: 'alice' },
      headers: { 'x-api-key': KEY },
    });
    expect(created.status).toBe(201);
    expectError(await request(server.url, 'DELETE', '/api/people/alice'), 401, 'unauthorized');
    const deleted = await request(server.url, 'DELETE', '/api/people/alice', {
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(deleted.status).toBe(204);
    // People's names and photos are personal data: reading them needs the key as well.
    await request(server.url, 'POST', '/api/people', { json: { name: 'bob' }, headers: { 'x-api-key': KEY } });
    const image = await request<ImageBody[]>(server.url, 'POST', '/api/people/bob/images', {
      json: { file: b64(await photo(personImage('howard', 1))), filename: 'howard1.png' },
      headers: { 'x-api-key': KEY },
    });
    expect(image.status).toBe(201);
    for (const path of ['/api/people', '/api/people/bob', `/api/people/bob/images/${image.body[0]!.file}`]) {
      expectError(await request(server.url, 'GET', path), 401, 'unauthorized');
      expect((await request(server.url, 'GET', path, { headers: { 'x-api-key': KEY } })).status).toBe(200);
    }
    await request(server.url, 'DELETE', '/api/people/bob', { headers: { 'x-api-key': KEY } });
    // Recognition stays open unless recognitionRequiresKey is set.
    await expectStillServing(server);
  });

  it('with recognitionRequiresKey, recognition needs the key too; images over maxImagePixels get 400', async () => {
    await server.restart({ recognitionRequiresKey: true, maxImagePixels: 100_000 });
    const file = b64(await photo(personImage('amy', 3)));
    for (const path of ['/rec', '/id_info', '/api/recognize']) {
      expectError(await request(server.url, 'POST', path, { json: { file } }), 401, 'unauthorized');
    }
    expectError(await request(server.url, 'GET', '/api/people'), 401, 'unauthorized');
    const keyed = { 'x-api-key': KEY };
    await expectStillServing(server, keyed);

    const scene = await photo(SCENES[3]!); // 710×473 = 335,830 pixels
    expect(await sharp(scene).metadata()).toMatchObject({ width: 710, height: 473 });
    const r = await request<ErrorBody>(server.url, 'POST', '/rec', { json: { file: b64(scene) }, headers: keyed });
    expectError(r, 400, 'image_too_large');
    expect(r.body.message).toMatch(/710×473.*limit is 100000 pixels/);
    await expectStillServing(server, keyed);
  });
});

// ---- enrolment over HTTP, then a restart

describe('enrolment over HTTP (no API key: local writes allowed), then a restart', () => {
  const server = useTestServer();
  const ADA = 'Ada Lovelace';
  const GRACE = 'Grace Hopper';

  /** The files in the person's folder are exactly the images the API lists. */
  async function agree(person: string, count: number): Promise<PersonBody> {
    const r = await request<PersonBody>(server.url, 'GET', `/api/people/${enc(person)}`);
    expect(r.status).toBe(200);
    expect(r.body.name).toBe(person);
    const listed = r.body.images.map((i) => i.file).sort();
    expect(listed).toEqual(await filesOnDisk(server, person));
    expect(listed).toHaveLength(count);
    return r.body;
  }

  async function addJson(person: string, src: string, filename: string): Promise<Reply<ImageBody[]>> {
    return request<ImageBody[]>(server.url, 'POST', `/api/people/${enc(person)}/images`, {
      json: { file: b64(await photo(src)), filename },
    });
  }

  async function addMultipart(person: string, files: [src: string, name: string][]): Promise<Reply<ImageBody[]>> {
    const form = new FormData();
    for (const [src, name] of files) form.append('file', new Blob([await photo(src)], { type: 'image/png' }), name);
    return request<ImageBody[]>(server.url, 'POST', `/api/people/${enc(person)}/images`, { body: form });
  }

  it('creates a person (201), and refuses the same name again (409)', async () => {
    const r = await request<PersonBody>(server.url, 'POST', '/api/people', { json: { name: ADA } });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ name: ADA, images: [] });
    await agree(ADA, 0);
    expectError(await request(server.url, 'POST', '/api/people', { json: { name: ADA } }), 409, 'person_exists');
  });

  it('refuses changes from a page of another site, and takes them from its own pages', async () => {
    const evil = await request(server.url, 'POST', '/api/people', {
      json: { name: 'Mallory' },
      headers: { Origin: 'http://evil.example' },
    });
    expectError(evil, 403, 'forbidden');
    const own = await request(server.url, 'POST', '/api/people', {
      json: { name: 'Own Page' },
      headers: { Origin: server.url },
    });
    expect(own.status).toBe(201);
    expect((await request(server.url, 'DELETE', `/api/people/${enc('Own Page')}`)).status).toBe(204);
    expect((await request(server.url, 'GET', '/api/people/Mallory')).status).toBe(404);
  });

  it('refuses a poor photo with 422 poor_quality, saying why, and writes nothing', async () => {
    const blurred = await blur(await photo(personImage('howard', 1)), 4);
    const r = await request(server.url, 'POST', `/api/people/${enc('Blurry')}/images`, {
      json: { file: b64(blurred), filename: 'blurry.png' },
    });
    expectError(r, 422, 'poor_quality');
    expect((r.body as ErrorBody).message).toMatch(/blurred/);
    expect((await request(server.url, 'GET', `/api/people/${enc('Blurry')}`)).status).toBe(404);
  });

  it('adds images as base64 JSON and as multipart/form-data (201, with statuses)', async () => {
    const json = await addJson(ADA, personImage('penny', 1), 'first.png');
    expect(json.status).toBe(201);
    expect(json.body).toHaveLength(1);
    expect(json.body[0]).toMatchObject({
      person: ADA,
      file: 'first.png',
      status: expect.stringMatching(/^(embedded|crop_fallback)$/),
    });
    await agree(ADA, 1);

    const multipart = await addMultipart(ADA, [
      [personImage('penny', 2), 'second.png'],
      [personImage('penny', 3), 'third.png'],
    ]);
    expect(multipart.status).toBe(201);
    expect(multipart.body.map((i) => i.file)).toEqual(['second.png', 'third.png']);
    for (const image of multipart.body) expect(['embedded', 'crop_fallback']).toContain(image.status);
    await agree(ADA, 3);

    // The same content again is the existing image, not a copy.
    const again = await addJson(ADA, personImage('penny', 2), 'copy.png');
    expect(again.status).toBe(201);
    expect(again.body[0]?.file).toBe('second.png');
    await agree(ADA, 3);

    // Stored bytes are served back unchanged.
    const served = await fetch(`${server.url}/api/people/${enc(ADA)}/images/first.png`);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer()).equals(await photo(personImage('penny', 1)))).toBe(true);

    // Enrolled faces are recognised at once.
    expect((await rec(server, await photo(personImage('penny', 4)))).names).toEqual([ADA]);
  });

  it('deletes an image (204)', async () => {
    const r = await request(server.url, 'DELETE', `/api/people/${enc(ADA)}/images/second.png`);
    expect(r.status).toBe(204);
    await agree(ADA, 2);
    expectError(
      await request(server.url, 'DELETE', `/api/people/${enc(ADA)}/images/second.png`),
      404,
      'image_not_found',
    );
  });

  it('renames a person (the folder moves with its images)', async () => {
    const r = await request<PersonBody>(server.url, 'PATCH', `/api/people/${enc(ADA)}`, { json: { name: 'Ada King' } });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('Ada King');
    expect(r.body.images.map((i) => i.file)).toEqual(['first.png', 'third.png']);
    await agree('Ada King', 2);
    await expect(readdir(join(server.dirs.facebank, ADA))).rejects.toThrow(/ENOENT/);
    expectError(await request(server.url, 'GET', `/api/people/${enc(ADA)}`), 404, 'person_not_found');
    expect((await rec(server, await photo(personImage('penny', 4)))).names).toEqual(['Ada King']);
  });

  it('refuses invalid names with 400 invalid_name', async () => {
    for (const name of ['..', '', '   ', '.hidden', 'a/b']) {
      expectError(await request(server.url, 'POST', '/api/people', { json: { name } }), 400, 'invalid_name');
    }
    expectError(await request(server.url, 'GET', '/api/people/a%2Fb'), 400, 'invalid_name');
    expectError(
      await request(server.url, 'POST', '/api/people/a%2Fb/images', {
        json: { file: b64(await photo(personImage('amy', 1))) },
      }),
      400,
      'invalid_name',
    );
    expectError(
      await request(server.url, 'PATCH', `/api/people/${enc('Ada King')}`, { json: { name: '..' } }),
      400,
      'invalid_name',
    );
    expectError(await request(server.url, 'DELETE', '/api/people/Ada%20King/images/..%2Fx.png'), 400, 'invalid_name');
    expect((await readdir(server.dirs.facebank)).sort()).toEqual(['Ada King']);
  });

  it('deletes a person (204) and their folder', async () => {
    // A second person stays, for the restart.
    expect((await addJson(GRACE, personImage('howard', 1), 'howard one.png')).status).toBe(201);
    expect((await addMultipart(GRACE, [[personImage('howard', 2), 'h2.png']])).status).toBe(201);
    await agree(GRACE, 2);

    const r = await request(server.url, 'DELETE', `/api/people/${enc('Ada King')}`);
    expect(r.status).toBe(204);
    expect(await readdir(server.dirs.facebank)).toEqual([GRACE]);
    expectError(await request(server.url, 'GET', `/api/people/${enc('Ada King')}`), 404, 'person_not_found');
    const people = await request<PersonBody[]>(server.url, 'GET', '/api/people');
    expect(people.body.map((p) => p.name)).toEqual([GRACE]);
  });

  it('keeps everything across a restart, without duplicates, from the cache', async () => {
    const before = (await request<PersonBody[]>(server.url, 'GET', '/api/people')).body;
    const diskBefore = await filesOnDisk(server, GRACE);
    const logsFrom = server.logs.length;

    await server.restart();

    const after = (await request<PersonBody[]>(server.url, 'GET', '/api/people')).body;
    expect(after).toEqual(before);
    expect(await readdir(server.dirs.facebank)).toEqual([GRACE]);
    expect(await filesOnDisk(server, GRACE)).toEqual(diskBefore);
    await agree(GRACE, 2);
    const health = await request<{ facebank: { people: number; images: number; templates: number } }>(
      server.url,
      'GET',
      '/api/health',
    );
    expect(health.body.facebank).toEqual({ people: 1, images: 2, templates: 2 });

    // Facebank.open reports its progress (done/total/cached) through the server log: every image came from
    // the SQLite cache, none was analysed again.
    const progress = server.logs
      .slice(logsFrom)
      .filter((l) => typeof l.cached === 'number' && typeof l.total === 'number');
    const last = progress.at(-1);
    expect(last).toMatchObject({ done: 2, total: 2, cached: 2 });
    expect((await rec(server, await photo(personImage('howard', 4)))).names).toEqual([GRACE]);
  });

  it('embeds the facebank again when FLIP changes how embeddings are made, and reuses each cache after', async () => {
    const lastProgress = (from: number) =>
      server.logs
        .slice(from)
        .filter((l) => typeof l.cached === 'number' && typeof l.total === 'number')
        .at(-1);
    let from = server.logs.length;
    await server.restart({ flip: true });
    expect(lastProgress(from)).toMatchObject({ done: 2, total: 2, cached: 0 });
    expect((await rec(server, await photo(personImage('howard', 4)))).names).toEqual([GRACE]);

    from = server.logs.length;
    await server.restart({ flip: false });
    expect(lastProgress(from)).toMatchObject({ done: 2, total: 2, cached: 2 });
  });
});

describe('fromOwnPage (writes and sockets without an API key are for this server’s pages only)', () => {
  it('accepts no Origin (not a browser), the same host, or the forwarded host', () => {
    expect(fromOwnPage(undefined, 'localhost:5000')).toBe(true);
    expect(fromOwnPage('http://localhost:5000', 'localhost:5000')).toBe(true);
    expect(fromOwnPage('https://faces.example.org', 'localhost:5000', 'faces.example.org')).toBe(true);
  });
  it('refuses other sites, other ports, and opaque origins', () => {
    expect(fromOwnPage('http://evil.example', 'localhost:5000')).toBe(false);
    expect(fromOwnPage('http://localhost:8080', 'localhost:5000')).toBe(false);
    expect(fromOwnPage('null', 'localhost:5000')).toBe(false);
    expect(fromOwnPage('http://evil.example', undefined)).toBe(false);
  });
});

describe('isLocal (writes without an API key are for local clients only)', () => {
  it('accepts the loopback addresses', () => {
    for (const a of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) expect(isLocal(a), a).toBe(true);
  });
  it('refuses other addresses and an unknown one', () => {
    for (const a of ['192.168.1.20', '10.0.0.1', '::ffff:10.0.0.1', 'fe80::1', '8.8.8.8', '', undefined]) {
      expect(isLocal(a), String(a)).toBe(false);
    }
  });
});
