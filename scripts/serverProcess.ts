// facerec as a child process for the HTTP benchmarks (`node --import tsx server/main.ts`, configured through a
// temporary config file), so its RSS is its own and its event loop is not the load generator's; both still
// share the machine's cores. Its facebank is a temporary folder with images 1–2 of the eight test people.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ENV_KEYS } from '../server/config.ts';
import { PEOPLE, personImage } from '../test/support/testdata.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The variables `npm start` sets for the server (the `VAR=value` words that lead its script: the allocator's
 * settings), so a bench measures the server as it is started.
 */
function startScriptEnv(): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const env: Record<string, string> = {};
  for (const word of pkg.scripts.start.split(/\s+/)) {
    const m = word.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/);
    if (!m) break;
    env[m[1]!] = m[2]!;
  }
  return env;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts server/main.ts in `dir` with only our config: facerec's environment variables in this shell are not
 * passed on. `config` is merged over the bench defaults (127.0.0.1, an ephemeral port, CPU, no watcher); the
 * variables of `npm start` are set unless `startEnv` is false.
 */
export async function startServerProcess(
  dir: string,
  config: Record<string, unknown> = {},
  { startEnv = true }: { startEnv?: boolean } = {},
): Promise<ServerProcess> {
  const facebankDir = join(dir, 'people');
  for (const person of PEOPLE) {
    await mkdir(join(facebankDir, person), { recursive: true });
    for (const n of [1, 2]) await copyFile(personImage(person, n), join(facebankDir, person, `${person}${n}.png`));
  }
  const configFile = join(dir, 'facerec.config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      host: '127.0.0.1',
      port: 0,
      facebankDir,
      databasePath: join(dir, 'facerec.db'),
      executionProvider: 'cpu',
      watchFacebank: false,
      logLevel: 'info',
      ...config,
    }),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(startEnv ? startScriptEnv() : {}),
    CONFIG_FILE: configFile,
  };
  for (const name of Object.keys(ENV_KEYS)) delete env[name];

  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server/main.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  const url = await new Promise<string>((ok, fail) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => fail(new Error('the server did not start within 120 s')), 120_000);
    exited.then((code) => fail(new Error(`the server exited with code ${code} before listening`)));
    lines.on('line', (line) => {
      let record: { level?: number; msg?: string; url?: string };
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if ((record.level ?? 0) >= 40) console.error(`[server] ${record.msg}`);
      if (record.url !== undefined && /listening/.test(record.msg ?? '')) {
        clearTimeout(timer);
        ok(record.url);
      }
    });
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    url,
    child,
    stop: async () => {
      process.off('exit', kill);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 10_000);
        await exited;
        clearTimeout(timer);
      }
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
