// Builds the dashboard (client/) into client/dist when its sources changed: run by `npm install` (postinstall),
// `npm start` (prestart) and `npm test` (pretest), so a fresh clone never needs a separate build command.
// A stamp of the sources' hash in client/dist says whether the bundle is current; `--force` rebuilds anyway.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { writeFileAtomic } from '../models/files.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLIENT = path.join(ROOT, 'client');
const DIST = path.join(CLIENT, 'dist');
const STAMP = path.join(DIST, '.sources-sha256');

function files(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? files(full) : [full];
    });
}

/** The hash of everything the bundle is made from: client sources, the Vite config and the locked dependencies. */
function sourcesHash(): string {
  const hash = createHash('sha256');
  const inputs = [
    ...files(path.join(CLIENT, 'src')),
    path.join(CLIENT, 'index.html'),
    path.join(CLIENT, 'vite.config.ts'),
    path.join(ROOT, 'package-lock.json'),
  ];
  for (const file of inputs) {
    hash.update(path.relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

const force = process.argv.includes('--force');
const hash = sourcesHash();
if (!force && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash) process.exit(0);

const started = performance.now();
await build({ configFile: path.join(CLIENT, 'vite.config.ts'), logLevel: 'warn' });
writeFileAtomic(STAMP, hash);
console.log(`dashboard built into client/dist in ${Math.round(performance.now() - started)} ms`);
