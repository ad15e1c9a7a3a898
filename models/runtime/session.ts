// Opens ONNX Runtime sessions on the best execution provider the machine has, and says which.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export type ProviderPreference = 'auto' | 'cuda' | 'cpu';
export type Provider = 'cuda' | 'cpu';

export interface SessionSettings {
  provider: ProviderPreference;
  /** Threads one session may use inside an operator; the pool multiplies this by its size. */
  intraOpThreads: number;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  provider: Provider;
  /** Why CUDA was not used, when `auto` fell back to the CPU. */
  fallbackReason?: string;
}

export class ProviderUnavailableError extends Error {
  override name = 'ProviderUnavailableError';
}

const ORT_BIN = join(
  dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')),
  'bin',
  'napi-v6',
  process.platform,
  process.arch,
);

/** Without the provider library, asking for CUDA only makes onnxruntime print a load error. */
function cudaLibraryPresent(): boolean {
  return existsSync(
    join(ORT_BIN, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'),
  );
}

/** The options every facerec session is opened with (exported for models built in memory, e.g. by benchmarks). */
export function sessionOptions(provider: Provider, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Our inputs change shape with every photo (pyramid levels, box batches). onnxruntime's CPU arena keeps every
    // block it ever grew to and never hands it back, and the memory patterns are cached per input shape: after a
    // warm-up on photos of 64 to 4000 px the server held 8.2 GB (0.7 GB without them), and it went on growing
    // with new sizes (`npm run bench:memory`). Plain allocations are freed after each run instead.
    enableCpuMemArena: false,
    enableMemPattern: false,
    // Every session owns its thread pool, and idle pool threads spin-wait by default. With the detector's
    // seven sessions run back to back, the spinning threads starved the working ones: with 2 threads per
    // session the 640×480 analysis took 148 ms instead of 42 ms with 1.
    ...(threads > 1 ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  };
}

export async function openSession(path: string, settings: SessionSettings): Promise<OpenedSession> {
  if (settings.provider === 'cpu') {
    return {
      session: await ort.InferenceSession.create(path, sessionOptions('cpu', settings.intraOpThreads)),
      provider: 'cpu',
    };
  }
  let reason: string;
  if (!cudaLibraryPresent()) {
    reason = 'the onnxruntime-node CUDA provider libraries are not installed (see the npm install output)';
  } else {
    try {
      const session = await ort.InferenceSession.create(path, sessionOptions('cuda', settings.intraOpThreads));
      return { session, provider: 'cuda' };
    } catch (err) {
      reason = `CUDA could not be initialised: ${(err as Error).message}`;
    }
  }
  if (settings.provider === 'cuda') throw new ProviderUnavailableError(`EXECUTION_PROVIDER=cuda, but ${reason}`);
  const session = await ort.InferenceSession.create(path, sessionOptions('cpu', settings.intraOpThreads));
  return { session, provider: 'cpu', fallbackReason: reason };
}
