// facerec as a child process for the HTTP benchmarks (test/support/serverProcess.ts, configured through a
// temporary config file), so its RSS is its own and its event loop is not the load generator's; both still
// share the machine's cores. Its facebank is a temporary folder with images 1–2 of the eight test people.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type ServerProcess, spawnServer } from '../test/support/serverProcess.ts';
import { PEOPLE, personImage } from '../test/support/testdata.ts';

export interface BenchServer {
  url: string;
  /** The child process (test/support/serverProcess.ts): pid, exit, the last lines of its output. */
  process: ServerProcess;
  stop(): Promise<void>;
}

/**
 * Starts server/main.ts in `dir` with only our config: facerec's environment variables in this shell are not
 * passed on. `config` is merged over the bench defaults (CPU, no watcher, a facebank of images 1–2 of the eight
 * test people); launched as `npm start` does (bin/with-allocator.sh) unless `withAllocator` is false.
 */
export async function startBenchServer(
  dir: string,
  config: Record<string, unknown> = {},
  { withAllocator = true }: { withAllocator?: boolean } = {},
): Promise<BenchServer> {
  const facebankDir = join(dir, 'people');
  for (const person of PEOPLE) {
    await mkdir(join(facebankDir, person), { recursive: true });
    for (const n of [1, 2]) await copyFile(personImage(person, n), join(facebankDir, person, `${person}${n}.png`));
  }
  const server = spawnServer({
    configDir: dir,
    config: {
      facebankDir,
      databasePath: join(dir, 'facerec.db'),
      executionProvider: 'cpu',
      watchFacebank: false,
      ...config,
    },
    withAllocator,
    onLine: (line) => {
      if (line.level >= 40) console.error(`[server] ${line.msg}`);
    },
  });
  const url = await server.listeningWithin(120_000);
  return {
    url,
    process: server,
    stop: async () => {
      await server.stop(10_000);
    },
  };
}

/** One sample from the server's own /metrics (prom-client's process and Node.js metrics, and ours). */
export async function serverMetric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
  if (!m) throw new Error(`${name} is missing from /metrics`);
  return Number(m[1]);
}

/** The server's resident set, as its own /metrics reports it. */
export function serverRss(url: string): Promise<number> {
  return serverMetric(url, 'facerec_process_resident_memory_bytes');
}
