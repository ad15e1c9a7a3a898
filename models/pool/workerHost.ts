// The worker-thread side of the pool: a worker script calls `serveRequests` once and the pool does the rest.
//
// Protocol (the only messages either side sends):
//   worker → pool  { type: 'ready', info }                  once, after setup resolved
//   worker → pool  { type: 'setupFailed', error }           once, instead of `ready`; the pool then terminates us
//   pool → worker  { type: 'request', id, req }             only while this worker has nothing in flight
//   worker → pool  { type: 'result', id, ok: true, res }    or { type: 'result', id, ok: false, error }
import { isMainThread, parentPort, type Transferable, workerData } from 'node:worker_threads';

/** An error reduced to what survives postMessage; the pool rebuilds an Error with the same name and message. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** A typed error's machine-readable code (e.g. ImageDecodeError's), kept so callers can map it. */
  code?: string;
}

export interface RequestMessage<Req> {
  type: 'request';
  id: number;
  req: Req;
}

export type WorkerMessage<Res, Info> =
  | { type: 'ready'; info: Info }
  | { type: 'setupFailed'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; res: Res }
  | { type: 'result'; id: number; ok: false; error: SerializedError };

/** What `setup` hands back: the request handler and whatever the pool should report as `pool.info`. */
export interface Served<Req, Res, Info> {
  handler: (req: Req) => Promise<Res>;
  info: Info;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return {
      name: err.name,
      message: err.message,
      ...(err.stack === undefined ? {} : { stack: err.stack }),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : `non-Error value thrown: ${String(err)}` };
}

/**
 * Call once at the top level of a worker module. `setup` receives the pool's `init` (the workerData) and
 * runs once per thread — also again in each replacement thread after a crash, so it must not assume it is
 * the first. `transferOf` lists buffers of a result to move instead of copy (e.g. embeddings' `.buffer`);
 * the handler must not touch them afterwards.
 */
export function serveRequests<Init, Req, Res, Info = undefined>(
  setup: (init: Init) => Promise<Served<Req, Res, Info>>,
  transferOf?: (res: Res) => Transferable[],
): void {
  const port = parentPort;
  if (isMainThread || port === null) {
    throw new Error('serveRequests() must run inside a worker thread started by WorkerPool');
  }
  const post = (msg: WorkerMessage<Res, Info>, transfer?: Transferable[]): void => port.postMessage(msg, transfer);

  const answer = async (handler: Served<Req, Res, Info>['handler'], msg: RequestMessage<Req>): Promise<void> => {
    let res: Res;
    try {
      res = await handler(msg.req);
    } catch (err) {
      post({ type: 'result', id: msg.id, ok: false, error: serializeError(err) });
      return;
    }
    try {
      // The same buffer listed twice (two views of one ArrayBuffer) makes postMessage throw, so dedupe.
      const transfer = transferOf ? [...new Set(transferOf(res))] : undefined;
      post({ type: 'result', id: msg.id, ok: true, res }, transfer);
    } catch (err) {
      // An uncloneable result must fail this request, not leave the pool waiting for an answer forever.
      post({ type: 'result', id: msg.id, ok: false, error: serializeError(err) });
    }
  };

  setup(workerData as Init).then(
    ({ handler, info }) => {
      // The pool sends one request at a time, but chaining keeps a non-re-entrant session safe even if it did not.
      let chain: Promise<void> = Promise.resolve();
      port.on('message', (msg: RequestMessage<Req>) => {
        chain = chain.then(() => answer(handler, msg));
      });
      post({ type: 'ready', info });
    },
    (err: unknown) => {
      // The pool terminates this thread on receipt; Node delivers posted messages before a worker's 'exit'.
      post({ type: 'setupFailed', error: serializeError(err) });
    },
  );
}
