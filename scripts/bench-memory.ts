// `npm run bench:memory`: the server's memory under varied and hostile input. A real server runs as a child
// process (scripts/benchServer.ts) with two file cameras; it is warmed up on real photos of many sizes, then
// sent N varied requests (real photos at random sizes and aspect ratios, mutated and truncated JPEG/PNG, random
// bytes, SVG, oversized images and bodies, giant headers, bad JSON, bad routes). Every answer must be of the
// right kind (no 5xx, no dropped connection) and the facebank unchanged. It prints the server's RSS after the
// warm-up, during and after the run and after an idle period, and the parts it can see (/proc status, the main
// thread's V8 heap, libvips' cache).
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ConfigSchema } from '../server/config.ts';
import { Health } from '../server/schemas.ts';
import { makeTestClip } from '../test/support/clips.ts';
import { processMemory } from '../test/support/processes.ts';
import { seededRandom } from '../test/support/random.ts';
import { LFW_DEV_DIR, MTCNN_REFERENCE_DIR, PEOPLE, personImage, SCENES } from '../test/support/testdata.ts';
import { numberArg } from './args.ts';
import { type BenchServer, serverMetric, startBenchServer } from './benchServer.ts';
import { textTable } from './stats.ts';

const HELP = `Usage: npm run bench:memory [-- options]

Starts facerec as a child process on 127.0.0.1 (temporary facebank: images 1-2 of the 8 test people) with file
cameras playing a 640x480 clip of the test photos, warms it up on real photos of many sizes (64 to 4000 px,
several aspect ratios, JPEG and PNG), then sends varied requests: real photos rescaled to random sizes (32 to
4000 px on the longer side, aspect ratios 1:4 to 4:1) as JPEG, PNG and WebP to POST /rec and /api/recognize,
mutated and truncated JPEG/PNG, random bytes, SVG, images over the pixel limit, bodies over the size limit, giant
headers, bad JSON and bad routes. Checks that every answer is of the right kind (no 5xx, no dropped connection)
and that the facebank is unchanged, then prints the server's RSS after the warm-up, during and after the run and
after an idle period, their ratio, and the parts it can see (RssAnon/RssFile from /proc, the main thread's V8
heap and libvips' cache from /metrics). Inputs are seeded: two runs send the same bytes.

Options:
  --requests N      varied requests after the warm-up (default 10000)
  --concurrency N   requests in flight (default 4)
  --cameras N       file cameras running throughout (default 2)
  --idle S          seconds without requests before the last sample (default 60)
  --sample N        print RSS every N requests (default 1000)
  --seed N          seed of the inputs (default 1)
  --pool N          inference workers (default: the server's default for this machine)
  --malloc-default  start the server without npm start's launcher (bin/with-allocator.sh): glibc's defaults
                    (FACEREC_ALLOCATOR=glibc in the environment measures the launcher's glibc fallback)
  --help            show this text`;

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '4' },
    cameras: { type: 'string', default: '2' },
    idle: { type: 'string', default: '60' },
    sample: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    pool: { type: 'string' },
    'malloc-default': { type: 'boolean', default: false },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const REQUESTS = numberArg('requests', args.requests, { integer: true });
const CONCURRENCY = numberArg('concurrency', args.concurrency, { integer: true });
const CAMERAS = numberArg('cameras', args.cameras, { integer: true, allowZero: true });
const IDLE_S = numberArg('idle', args.idle, { allowZero: true });
const SAMPLE = numberArg('sample', args.sample, { integer: true });
const SEED = numberArg('seed', args.seed, { integer: true });
const POOL = args.pool === undefined ? undefined : numberArg('pool', args.pool, { integer: true });

/** The server's limits the hostile inputs go past: its defaults. */
const { maxImagePixels: MAX_IMAGE_PIXELS, bodyLimitBytes: BODY_LIMIT_BYTES } = ConfigSchema.parse({});

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------------------------
// Inputs

/** Real photos: the group scenes, the MTCNN reference photo, facebank crops and LFW photos (250×250). */
function sourcePhotos(random: () => number): string[] {
  const lfw = readdirSync(join(LFW_DEV_DIR, 'images')).sort();
  const picked = Array.from({ length: 24 }, () => lfw[Math.floor(random() * lfw.length)]!);
  const lfwFiles = picked.map((name) => {
    const dir = join(LFW_DEV_DIR, 'images', name);
    return join(dir, readdirSync(dir).sort()[0]!);
  });
  return [...SCENES, join(MTCNN_REFERENCE_DIR, 'faces.jpg'), ...PEOPLE.map((p) => personImage(p, 3)), ...lfwFiles];
}

type Format = 'jpeg' | 'png' | 'webp';
/**
 * PNG and WebP only up to 4 MP: their encoders are slow (this process shares the CPU with the server), and a
 * larger photo's PNG would be over the body limit.
 */
const PNG_MAX_PIXELS = 4e6;

async function rescaled(src: string, width: number, height: number, format: Format): Promise<Buffer> {
  const img = sharp(src).resize(width, height, { fit: 'fill' });
  if (format === 'png') return img.png({ compressionLevel: 1 }).toBuffer();
  if (format === 'webp') return img.webp({ quality: 80 }).toBuffer();
  return img.jpeg({ quality: 85 }).toBuffer();
}

/** What a request is and which answers are right for it. */
interface Probe {
  kind: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Statuses that are right for this request ('error CODE': the connection ended so, on purpose). */
  ok: readonly (number | string)[];
}

const json = { 'content-type': 'application/json' };
const recBody = (bytes: Uint8Array) => JSON.stringify({ file: Buffer.from(bytes).toString('base64') });

function multipart(bytes: Uint8Array, filename: string): { headers: Record<string, string>; body: Uint8Array } {
  const boundary = 'facerecbenchboundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n\r\n`;
  const body = Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
}

/** A photo request: /rec (JSON) mostly, /api/recognize (multipart) sometimes. */
function photoProbe(kind: string, bytes: Uint8Array, random: () => number, ok: Probe['ok']): Probe {
  if (random() < 0.8) return { kind, method: 'POST', path: '/rec', headers: json, body: recBody(bytes), ok };
  return { kind, method: 'POST', path: '/api/recognize', ...multipart(bytes, 'x.jpg'), ok };
}

/** A size drawn log-uniformly: as many small images as large ones, sides from `min` to `max`. */
function logUniform(random: () => number, min: number, max: number): number {
  return Math.round(Math.exp(Math.log(min) + random() * (Math.log(max) - Math.log(min))));
}

class Inputs {
  private readonly random: () => number;
  private readonly photos: string[];
  /** A few encoded photos to mutate and truncate (made once). */
  private bases: { jpeg: Buffer; png: Buffer }[] = [];
  private overLimit?: Buffer;

  constructor(seed: number) {
    this.random = seededRandom(seed);
    this.photos = sourcePhotos(this.random);
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  async prepare(): Promise<void> {
    for (const src of [SCENES[0]!, SCENES[3]!, personImage('penny', 3), this.photos.at(-1)!]) {
      this.bases.push({
        jpeg: await sharp(src).resize({ width: 640, withoutEnlargement: false }).jpeg().toBuffer(),
        png: await sharp(src).resize({ width: 480 }).png().toBuffer(),
      });
    }
    // Over the pixel limit but small on the wire: a flat PNG (a decompression bomb in miniature).
    const side = Math.ceil(Math.sqrt(MAX_IMAGE_PIXELS * 1.2));
    this.overLimit = await sharp({ create: { width: side, height: side, channels: 3, background: '#777' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
  }

  /** The warm-up: every source group at a grid of sizes and aspect ratios, JPEG and PNG. */
  async *warmup(): AsyncGenerator<Probe> {
    const sides = [64, 160, 320, 640, 1024, 1600, 2400, 3200, 4000];
    const aspects = [4 / 3, 3 / 4, 16 / 9, 1];
    const sources = [SCENES[0]!, join(MTCNN_REFERENCE_DIR, 'faces.jpg'), this.photos.at(-1)!];
    let i = 0;
    for (const side of sides) {
      for (const aspect of aspects) {
        const width = aspect >= 1 ? side : Math.round(side * aspect);
        const height = aspect >= 1 ? Math.round(side / aspect) : side;
        const format: Format = i % 2 === 0 || width * height > PNG_MAX_PIXELS ? 'jpeg' : 'png';
        const bytes = await rescaled(sources[i % sources.length]!, width, height, format);
        i++;
        yield { kind: 'warm-up photo', method: 'POST', path: '/rec', headers: json, body: recBody(bytes), ok: [200] };
      }
    }
  }

  /** The varied run's next request. */
  async next(): Promise<Probe> {
    // Photos are 12%: a 4000 px one takes seconds of the pool, and 10,000 requests should take tens of minutes.
    const r = this.random();
    if (r < 0.12) return this.photo();
    if (r < 0.24) return this.mutated();
    if (r < 0.34) return this.truncated();
    if (r < 0.44) return this.randomBytes();
    if (r < 0.5) return this.svg();
    if (r < 0.53) return photoProbe('over the pixel limit', this.overLimit!, this.random, [400]);
    if (r < 0.54) return this.bodyTooLarge();
    if (r < 0.62) return this.giantHeader();
    if (r < 0.84) return this.badJson();
    return this.badRoute();
  }

  private async photo(): Promise<Probe> {
    const longer = logUniform(this.random, 32, 4000);
    const aspect = Math.exp((this.random() * 2 - 1) * Math.log(4)); // 1:4 … 4:1
    const width = Math.max(8, Math.round(aspect >= 1 ? longer : longer * aspect));
    const height = Math.max(8, Math.round(aspect >= 1 ? longer / aspect : longer));
    const format: Format =
      width * height > PNG_MAX_PIXELS ? 'jpeg' : this.pick(['jpeg', 'jpeg', 'png', 'webp'] as const);
    const bytes = await rescaled(this.pick(this.photos), width, height, format);
    return photoProbe(`photo ${format}`, bytes, this.random, [200]);
  }

  /** A real JPEG or PNG with a few bytes past its header changed: decodes to garbage, or is refused. */
  private mutated(): Probe {
    const base = this.pick(this.bases);
    const png = this.random() < 0.4;
    const bytes = Buffer.from(png ? base.png : base.jpeg);
    const flips = 1 + Math.floor(this.random() * 20);
    for (let k = 0; k < flips; k++) {
      const at = 64 + Math.floor(this.random() * (bytes.length - 64));
      bytes[at] = Math.floor(this.random() * 256);
    }
    return photoProbe(`mutated ${png ? 'png' : 'jpeg'}`, bytes, this.random, [200, 400]);
  }

  private truncated(): Probe {
    const base = this.pick(this.bases);
    const png = this.random() < 0.4;
    const whole = png ? base.png : base.jpeg;
    const bytes = whole.subarray(0, Math.floor(whole.length * (0.05 + this.random() * 0.9)));
    return photoProbe(`truncated ${png ? 'png' : 'jpeg'}`, bytes, this.random, [400]);
  }

  private randomBytes(): Probe {
    const bytes = new Uint8Array(1 + Math.floor(this.random() * 200_000));
    for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(this.random() * 256);
    return photoProbe('random bytes', bytes, this.random, [400]);
  }

  /** SVG (libvips renders it): plain, huge (over the pixel limit) or malformed. */
  private svg(): Probe {
    const r = this.random();
    const side = r < 0.4 ? 200 + Math.floor(this.random() * 800) : 20_000;
    const text =
      r < 0.8
        ? `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><circle cx="${side / 2}" ` +
          `cy="${side / 2}" r="${side / 3}" fill="#c96"/></svg>`
        : `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><circle cx="50"`;
    return photoProbe(
      side === 20_000 && r < 0.8 ? 'svg over the limit' : 'svg',
      Buffer.from(text),
      this.random,
      [200, 400],
    );
  }

  private bodyTooLarge(): Probe {
    const body = `{"file":"${'A'.repeat(BODY_LIMIT_BYTES + 1024)}"}`;
    // The server answers 413 from the declared length and closes the connection: a client still sending the
    // body may see the close before it reads the answer.
    const ok = [413, 'error EPIPE', 'error ECONNRESET'];
    return { kind: 'body over the limit', method: 'POST', path: '/rec', headers: json, body, ok };
  }

  /** Node refuses headers over 16 KB with 431 before any of our code runs. */
  private giantHeader(): Probe {
    const size = 17_000 + Math.floor(this.random() * 100_000);
    return {
      kind: 'giant header',
      method: 'POST',
      path: '/rec',
      headers: { ...json, 'x-filler': 'x'.repeat(size) },
      body: '{}',
      ok: [431],
    };
  }

  private badJson(): Probe {
    const bodies: [string, Record<string, string>, number[]][] = [
      ['{"file": "abc', json, [400]],
      ['{"file": 12}', json, [400]],
      ['{"nofile": "x"}', json, [400]],
      ['{"file": "!!!not base64!!!"}', json, [400]],
      ['{"file": ""}', json, [400]],
      ['', json, [400]],
      ['[1,2,3]', json, [400]],
      ['{"file": "iVBORw0KGgo="}', json, [400]],
      [`{"file": "${'QUFB'.repeat(10)}"}`, { 'content-type': 'text/plain' }, [415]],
      [`${'['.repeat(5000)}`, json, [400]],
    ];
    const [body, headers, ok] = this.pick(bodies);
    const path = this.pick(['/rec', '/id_info', '/api/recognize']);
    return { kind: 'bad json', method: 'POST', path, headers, body, ok };
  }

  private badRoute(): Probe {
    const routes: [string, string, number[]][] = [
      ['GET', '/nope', [404]],
      ['POST', '/rec/extra', [404]],
      ['GET', '/rec', [404, 405]],
      ['DELETE', '/rec', [404, 405]],
      ['GET', `/api/${'a'.repeat(4000)}`, [404]],
      ['GET', '/api/people/nobody-here', [404]],
      ['GET', '/api/people/%E0%A4%A', [400, 404]],
      ['GET', '/api/events/notanumber/crop', [400, 404]],
      ['POST', '/api/people', [400, 415]],
      ['GET', '/../../etc/passwd', [404]],
    ];
    const [method, path, ok] = this.pick(routes);
    const body = method === 'POST' ? '{"name": ""}' : undefined;
    return { kind: 'bad route', method, path, ...(body ? { headers: json, body } : {}), ok };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

interface Sample {
  label: string;
  rss: number;
  anon: number;
  file: number;
  heapMain: number;
  vipsCache?: number;
}

async function optionalMetric(url: string, name: string): Promise<number | undefined> {
  try {
    return await serverMetric(url, name);
  } catch {
    return undefined;
  }
}

async function sample(server: BenchServer, label: string): Promise<Sample> {
  const vipsCache = await optionalMetric(server.url, 'facerec_image_cache_bytes');
  const memory = processMemory(server.process.pid);
  if (!memory) throw new Error(`the server (pid ${server.process.pid}) has exited`);
  return {
    label,
    ...memory,
    heapMain: await serverMetric(server.url, 'facerec_nodejs_heap_size_used_bytes'),
    ...(vipsCache === undefined ? {} : { vipsCache }),
  };
}

function sampleTable(samples: Sample[], base: Sample): string {
  const opt = (v: number | undefined) => (v === undefined ? '—' : mb(v));
  return textTable(
    ['when', 'RSS', '× warm-up', 'RssAnon', 'RssFile', 'V8 heap (main)', 'libvips cache'],
    samples.map((s) => [
      s.label,
      mb(s.rss),
      (s.rss / base.rss).toFixed(2),
      mb(s.anon),
      mb(s.file),
      mb(s.heapMain),
      opt(s.vipsCache),
    ]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The run

interface Tally {
  count: number;
  statuses: Map<number | string, number>;
}

async function send(url: string, probe: Probe): Promise<number | string> {
  try {
    const res = await fetch(`${url}${probe.path}`, {
      method: probe.method,
      ...(probe.headers ? { headers: probe.headers } : {}),
      ...(probe.body === undefined ? {} : { body: probe.body }),
      signal: AbortSignal.timeout(600_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return `error ${cause ?? (err as Error).name}`;
  }
}

async function waitForCameras(url: string, n: number): Promise<void> {
  const by = Date.now() + 60_000;
  for (;;) {
    const cams = (await (await fetch(`${url}/api/cameras`)).json()) as { health?: { state: string } }[];
    if (cams.filter((c) => c.health?.state === 'live').length >= n) return;
    if (Date.now() > by) throw new Error(`cameras not live within 60 s: ${JSON.stringify(cams)}`);
    await sleep(250);
  }
}

async function facebankState(url: string): Promise<string> {
  return JSON.stringify(await (await fetch(`${url}/api/people`)).json());
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'facerec-bench-memory-'));
  let server: BenchServer | undefined;
  try {
    const inputs = new Inputs(SEED);
    await inputs.prepare();
    const clip = await makeTestClip(
      (['penny', 'raj', 'amy', 'howard'] as const).map((p) => personImage(p, 1)),
      join(dir, 'people.mp4'),
    );
    const cameras = Array.from({ length: CAMERAS }, (_, i) => ({ name: `bench ${i + 1}`, url: clip }));
    server = await startBenchServer(
      dir,
      { cameras, ...(POOL === undefined ? {} : { poolSize: POOL }) },
      { withAllocator: !args['malloc-default'] },
    );
    const { url } = server;
    await waitForCameras(url, CAMERAS);
    const health = Health.parse(await (await fetch(`${url}/api/health`)).json());
    console.log(
      `facerec bench:memory — ${cpus()[0]?.model ?? 'CPU'} × ${availableParallelism()}, server in a child ` +
        `process (${health.provider}, ${health.workers} workers, ${health.allocator}), ${CAMERAS} file camera(s) live, load average ` +
        `${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    const samples: Sample[] = [await sample(server, 'cameras live')];
    const facebank = await facebankState(url);

    let warm = 0;
    for await (const probe of inputs.warmup()) {
      const status = await send(url, probe);
      if (status !== 200) throw new Error(`warm-up photo answered ${status}`);
      warm++;
    }
    const base = await sample(server, `after warm-up (${warm} photos)`);
    samples.push(base);
    console.log(`warm-up: ${warm} photos, 64–4000 px; RSS ${mb(base.rss)}`);

    const tallies = new Map<string, Tally>();
    const wrong: string[] = [];
    let sent = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const probe = await inputs.next();
        const status = await send(url, probe);
        const tally = tallies.get(probe.kind) ?? { count: 0, statuses: new Map() };
        tally.count++;
        tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
        tallies.set(probe.kind, tally);
        if (!probe.ok.includes(status)) {
          wrong.push(`${probe.kind}: ${probe.method} ${probe.path.slice(0, 60)} answered ${status}`);
        }
      }
    };
    const sampler = (async () => {
      let next = SAMPLE;
      while (sent < REQUESTS) {
        await sleep(500);
        if (sent >= next) {
          const s = await sample(server!, `after ${next} requests`);
          samples.push(s);
          console.log(`  ${next} requests (${((performance.now() - t0) / 1000).toFixed(0)} s): RSS ${mb(s.rss)}`);
          next += SAMPLE;
        }
      }
    })();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await sampler;
    const seconds = (performance.now() - t0) / 1000;
    const after = await sample(server, `after the run (${REQUESTS})`);
    samples.push(after);
    await sleep(IDLE_S * 1000);
    const idle = await sample(server, `after ${IDLE_S} s idle`);
    samples.push(idle);
    const facebankAfter = await facebankState(url);

    console.log(`\n${REQUESTS} requests in ${seconds.toFixed(0)} s, ${CONCURRENCY} in flight:`);
    console.log(
      textTable(
        ['kind', 'requests', 'answers'],
        [...tallies.entries()]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([kind, t]) => [
            kind,
            String(t.count),
            [...t.statuses.entries()]
              .sort(([a], [b]) => String(a).localeCompare(String(b)))
              .map(([s, n]) => `${s}×${n}`)
              .join(' '),
          ]),
      ),
    );
    console.log(`\n${sampleTable(samples, base)}`);
    console.log(
      `\nRSS: warm-up ${mb(base.rss)}, after the run ${mb(after.rss)} (${(after.rss / base.rss).toFixed(2)}×), ` +
        `after ${IDLE_S} s idle ${mb(idle.rss)} (${(idle.rss / base.rss).toFixed(2)}×); bound 1.5×`,
    );
    const failures = [
      ...wrong.slice(0, 20),
      ...(wrong.length > 20 ? [`… and ${wrong.length - 20} more wrong answers`] : []),
      ...(facebankAfter === facebank ? [] : ['the facebank changed']),
      ...(server.process.exit === undefined
        ? []
        : [`the server exited (${server.process.exit.code ?? server.process.exit.signal})`]),
    ];
    if (failures.length > 0) {
      console.error(`\nFAILED:\n  ${failures.join('\n  ')}`);
      process.exitCode = 1;
    } else console.log('every answer of the right kind; the facebank unchanged');
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
