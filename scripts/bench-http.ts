// `npm run bench:http`: POST /rec over real HTTP with autocannon against a real server.
// The server runs as a child process (scripts/benchServer.ts): its RSS is its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { oneFacePhoto } from '../test/support/photos.ts';
import { numberArg } from './args.ts';
import { type BenchServer, serverRss, startBenchServer } from './benchServer.ts';

const HELP = `Usage: npm run bench:http [-- options]

Starts facerec as a child process on 127.0.0.1 (temporary facebank: images 1-2 of the 8 test people), then
measures POST /rec with a 640x480 one-face JPEG using autocannon.

Options:
  --duration S        seconds per concurrency level (default 15)
  --warmup S          seconds of warm-up before the first level (default 3)
  --concurrency LIST  comma-separated connection counts (default 1,4,16)
  --requests N        requests for the memory check (default 10000; 0 skips it)
  --pool N            inference workers (default: the server's default for this machine)
  --help              show this text`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,4,16' },
    requests: { type: 'string', default: '10000' },
    pool: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}

const DURATION = numberArg('duration', args.duration, { integer: true });
const WARMUP = numberArg('warmup', args.warmup, { integer: true, allowZero: true });
const LEVELS = args.concurrency.split(',').map((c) => numberArg('concurrency', c.trim(), { integer: true }));
const REQUESTS = numberArg('requests', args.requests, { integer: true, allowZero: true });
const POOL = args.pool === undefined ? undefined : numberArg('pool', args.pool, { integer: true });

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

interface Row {
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(
  url: string,
  body: string,
  options: { connections: number } & ({ duration: number } | { amount: number }),
) {
  return autocannon({
    url: `${url}/rec`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    timeout: 30,
    ...options,
  });
}

function toRow(r: autocannon.Result): Row {
  return {
    connections: r.connections,
    requests: r['2xx'] + r.non2xx,
    rps: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

function table(rows: Row[]): string {
  const head = ['connections', 'requests', 'req/s (2xx)', 'p50 ms', 'p99 ms', 'errors', 'non-2xx'];
  const cells = rows.map((r) => [
    String(r.connections),
    String(r.requests),
    r.rps.toFixed(1),
    r.p50.toFixed(0),
    r.p99.toFixed(0),
    String(r.errors),
    String(r.non2xx),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `  ${c.map((v, i) => v.padStart(widths[i]!)).join('  ')}`;
  return [line(head), `  ${widths.map((w) => '-'.repeat(w)).join('  ')}`, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const jpeg = await oneFacePhoto();
  const body = JSON.stringify({ file: jpeg.toString('base64') });
  const dir = await mkdtemp(join(tmpdir(), 'facerec-bench-http-'));
  let server: BenchServer | undefined;
  try {
    server = await startBenchServer(dir, POOL === undefined ? {} : { poolSize: POOL });
    const { url } = server;
    const health = (await (await fetch(`${url}/api/health`)).json()) as {
      provider: string;
      workers: number;
      facebank: { people: number; templates: number };
    };
    const check = (await (
      await fetch(`${url}/rec`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    ).json()) as { names: string[] | null };
    if (check.names?.[0] !== 'penny') throw new Error(`the bench photo was not recognised: ${JSON.stringify(check)}`);

    console.log(
      `facerec bench:http — ${cpus()[0]?.model ?? 'CPU'} × ${availableParallelism()}, server in a child process ` +
        `(${health.provider}, ${health.workers} workers), facebank ${health.facebank.people} people / ` +
        `${health.facebank.templates} templates`,
    );
    console.log(
      `load average before the run: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (a busy machine skews everything)`,
    );
    console.log(
      `POST /rec, 640×480 JPEG with one face (${(jpeg.length / 1024).toFixed(0)} KB, body ${(body.length / 1024).toFixed(0)} KB)`,
    );

    if (WARMUP > 0) await load(url, body, { connections: 4, duration: WARMUP });
    const rows: Row[] = [];
    for (const connections of LEVELS) {
      rows.push(toRow(await load(url, body, { connections, duration: DURATION })));
      console.log(`  … ${connections} connection(s) done`);
    }
    console.log(`\n${DURATION} s per level after ${WARMUP} s of warm-up:\n${table(rows)}`);

    if (REQUESTS > 0) {
      const before = await serverRss(url);
      const t = performance.now();
      const r = await load(url, body, { connections: 4, amount: REQUESTS });
      const seconds = (performance.now() - t) / 1000;
      const after = await serverRss(url);
      console.log(
        `\nServer RSS over ${REQUESTS} more requests (4 connections, ${seconds.toFixed(0)} s, ` +
          `${r.errors} errors, ${r.non2xx} non-2xx):\n` +
          `  before ${mb(before)}, after ${mb(after)}: growth ${(((after - before) / before) * 100).toFixed(1)}%`,
      );
    }
  } finally {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
