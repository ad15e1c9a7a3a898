// Which malloc this process runs on. `npm start` launches the server through bin/with-allocator.sh; a server
// started another way (`npx facerec serve`, a service file) may run on glibc's defaults, whose arenas keep the
// freed native memory of every new input size, so it says so at start.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * `jemalloc`: preloaded (bin/with-allocator.sh, where installed); `glibc-tuned`: glibc with that script's fallback
 * settings (two arenas, a fixed mmap threshold); `glibc`: glibc's defaults.
 */
export const ALLOCATORS = ['jemalloc', 'glibc-tuned', 'glibc'] as const;
export type Allocator = (typeof ALLOCATORS)[number];

function ownMaps(): string {
  try {
    return readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return ''; // not Linux: nothing to tell
  }
}

/** The allocator of a process, from the libraries mapped into it and glibc's tuning variables. */
export function allocatorOf(maps: string, env: NodeJS.ProcessEnv): Allocator {
  if (/\/libjemalloc\.so[.\d]*$/m.test(maps)) return 'jemalloc';
  return env.MALLOC_ARENA_MAX !== undefined ? 'glibc-tuned' : 'glibc';
}

let own: Allocator | undefined;
/** This process's allocator (it cannot change while the process runs). */
export function processAllocator(): Allocator {
  own ??= allocatorOf(ownMaps(), process.env);
  return own;
}

export function logAllocator(logger: Logger, allocator: Allocator = processAllocator()): void {
  if (allocator === 'jemalloc') {
    // Its options decide how much the server faults pages in (bin/with-allocator.sh): worth seeing when overridden.
    logger.info({ allocator, options: process.env.MALLOC_CONF ?? '' }, 'memory allocator: jemalloc');
  } else if (allocator === 'glibc-tuned') {
    logger.info(
      { allocator },
      'memory allocator: glibc with two arenas (libjemalloc2 keeps the resident memory lower; README, Memory)',
    );
  } else {
    logger.warn(
      { allocator },
      "memory allocator: glibc's defaults, so native memory grows with every new image size; start the server " +
        'through bin/with-allocator.sh, as npm start does (README, Memory)',
    );
  }
}
