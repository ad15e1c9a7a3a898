// A fixed set of worker threads, each holding its own model sessions, because onnxruntime's session.run blocks
// the thread that calls it. This is the only module that owns worker threads; workers use ./workerHost.ts.
import { type Transferable, Worker } from 'node:worker_threads';
import type { Logger } from '../logger.ts';
import type { RequestMessage, SerializedError, WorkerMessage } from './workerHost.ts';
import { WORKER_EXEC_ARGV, workerScript } from './workerScript.ts';

export interface PoolOptions<Init> {
  /** The worker module (.ts, run as a bundle: ./workerScript.ts; or .js); it calls `serveRequests` (./workerHost.ts). */
  workerFile: URL;
  /** Threads to run. */
  size: number;
  /** Structured-cloneable; every thread (replacements too) receives it as workerData. */
  init: Init;
  /** Requests allowed to wait for a free thread; one more is refused with OverloadError. */
  maxQueue: number;
  /** Appears in error messages, logs and thread names. */
  name?: string;
  /** Crashes and failed restarts are reported here; pino's logger fits. Defaults to the console. */
  logger?: Logger;
}

export interface PoolStats {
  /** Threads that have finished setup and can take requests (busy or not). */
  size: number;
  /** Threads asked for in PoolOptions.size. */
  slots: number;
  /** Replacement threads still running setup. */
  starting: number;
  /** Slots left empty because a replacement failed setup; the pool serves with fewer threads. */
  emptySlots: number;
  busy: number;
  queued: number;
  /** Requests answered with a result. */
  completed: number;
  /** Accepted requests that did not produce a result: handler errors, crashes, close(). */
  failed: number;
  /** Requests refused by run() without being accepted: overload, closed, no threads left. */
  rejected: number;
  /** Threads that died after setup. */
  crashes: number;
  /** Replacement threads that failed setup. */
  restartFailures: number;
}

/** The queue is full; the HTTP layer answers 503 with Retry-After. */
export class OverloadError extends Error {
  override name = 'OverloadError';
  constructor(
    readonly queueDepth: number,
    poolName: string,
  ) {
    super(`${poolName} is overloaded: ${queueDepth} requests already waiting for a thread`);
  }
}

/** The thread running this request died, or no thread is left to run it. */
export class WorkerCrashError extends Error {
  override name = 'WorkerCrashError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The pool was closed before the request could finish, or run() was called after close(). */
export class PoolClosedError extends Error {
  override name = 'PoolClosedError';
}

interface Job<Req, Res> {
  id: number;
  req: Req;
  transfer: readonly Transferable[] | undefined;
  resolve: (res: Res) => void;
  reject: (err: Error) => void;
}

/** Rebuilt as a plain Error whose name is the original's, so callers can branch on e.g. 'ImageDecodeError'. */
function reviveError(e: SerializedError): Error {
  const err: Error & { code?: string } = new Error(e.message);
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  // The worker's stack says where it failed; the main-thread stack would only show the message handler.
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

/** One worker thread and the request it is running. */
class Thread<Req, Res, Info> {
  readonly worker: Worker;
  /** Settles once: with the setup info, or with the setup error / the reason the thread died first. */
  readonly ready: Promise<Info>;
  /** Resolves with the exit code once the thread is gone. */
  readonly exited: Promise<number>;
  /** Settles when the thread next posts a message or exits: a running request's answer, or setup's outcome. */
  nextMessage(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.worker.off('message', done);
        this.worker.off('exit', done);
        resolve();
      };
      this.worker.once('message', done);
      this.worker.once('exit', done);
    });
  }
  state: 'starting' | 'ready' | 'exited' = 'starting';
  job: Job<Req, Res> | undefined;
  private lastError: Error | undefined;

  constructor(
    readonly slot: number,
    /** What the thread runs: workerScript()'s output. */
    script: URL,
    init: unknown,
    name: string,
    onResult: (thread: Thread<Req, Res, Info>, msg: Extract<WorkerMessage<Res, Info>, { type: 'result' }>) => void,
    onDeath: (thread: Thread<Req, Res, Info>, exitCode: number, lastError: Error | undefined) => void,
  ) {
    this.worker = new Worker(script, { workerData: init, name: `${name}#${slot}`, execArgv: [...WORKER_EXEC_ARGV] });
    let resolveReady: (info: Info) => void = () => {};
    let rejectReady: (err: Error) => void = () => {};
    this.ready = new Promise<Info>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    this.exited = new Promise<number>((resolve) => this.worker.once('exit', resolve));

    this.worker.on('message', (msg: WorkerMessage<Res, Info>) => {
      switch (msg.type) {
        case 'ready':
          this.state = 'ready';
          resolveReady(msg.info);
          break;
        case 'setupFailed':
          rejectReady(reviveError(msg.error));
          void this.worker.terminate();
          break;
        case 'result':
          onResult(this, msg);
          break;
      }
    });
    // 'error' (an uncaught exception in the worker) is always followed by 'exit', where it is reported.
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    // A message we cannot deserialize leaves its request unanswerable; treat it like a crash.
    this.worker.on('messageerror', (err) => {
      this.lastError = err;
      void this.worker.terminate();
    });
    this.worker.once('exit', (code) => {
      const wasReady = this.state === 'ready';
      this.state = 'exited';
      rejectReady(
        this.lastError ?? new WorkerCrashError(`${name}#${slot} exited with code ${code} during setup`, code),
      );
      if (wasReady) onDeath(this, code, this.lastError);
    });
  }
}

export class WorkerPool<Init, Req, Res, Info = unknown> {
  /** What the first thread's setup reported (e.g. the execution provider). */
  readonly info: Info;
  private readonly name: string;
  private readonly logger: Logger;
  /** undefined = a slot whose replacement failed setup and stays empty. */
  private readonly slots: Array<Thread<Req, Res, Info> | undefined>;
  private readonly queue: Array<Job<Req, Res>> = [];
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private counts = { completed: 0, failed: 0, rejected: 0, crashes: 0, restartFailures: 0 };

  private constructor(
    private readonly options: PoolOptions<Init>,
    /** The bundle every thread (replacements too) runs. */
    private readonly script: URL,
    threads: Array<Thread<Req, Res, Info>>,
    info: Info,
  ) {
    this.name = options.name ?? 'worker pool';
    this.logger = options.logger ?? consoleLogger;
    this.slots = threads;
    this.info = info;
  }

  /**
   * Resolves once every thread has finished setup. If any thread fails setup, all threads are terminated
   * and this rejects with that thread's error (same name and message as thrown in the worker).
   */
  static async start<Init, Req, Res, Info = unknown>(
    options: PoolOptions<Init>,
  ): Promise<WorkerPool<Init, Req, Res, Info>> {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('pool size must be an integer ≥ 1');
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 0) {
      throw new RangeError('maxQueue must be an integer ≥ 0');
    }
    // Threads exist before the pool object does, so their callbacks go through this late-bound reference.
    let pool: WorkerPool<Init, Req, Res, Info> | undefined;
    const name = options.name ?? 'worker pool';
    const script = await workerScript(options.workerFile);
    const threads = Array.from(
      { length: options.size },
      (_, slot) =>
        new Thread<Req, Res, Info>(
          slot,
          script,
          options.init,
          name,
          (thread, msg) => pool?.onResult(thread, msg),
          (thread, code, err) => pool?.onDeath(thread, code, err),
        ),
    );
    let infos: Info[];
    try {
      infos = await Promise.all(threads.map((t) => t.ready));
    } catch (err) {
      // The other threads may still be creating sessions: let them settle before terminating (see retire()).
      await Promise.all(threads.map((t) => retire(t, t.ready.then(noop, noop), name, consoleLogger)));
      throw err;
    }
    pool = new WorkerPool<Init, Req, Res, Info>(options, script, threads, infos[0] as Info);
    // A thread that died between its ready message and now had nobody to report to.
    for (const thread of threads) if (thread.state === 'exited') pool.onDeath(thread, 1, undefined);
    return pool;
  }

  /**
   * Runs `req` on the next free thread (FIFO). Rejects at once with OverloadError when `maxQueue` requests
   * are already waiting. `transfer` buffers are moved to the worker when the request is dispatched, which
   * may be later than this call: do not touch them after calling run.
   */
  run(req: Req, transfer?: readonly Transferable[]): Promise<Res> {
    if (this.closing) return this.refuse(new PoolClosedError(`${this.name} is closed`));
    if (!this.slots.some((t) => t !== undefined)) {
      return this.refuse(
        new WorkerCrashError(`${this.name} has no threads left: every replacement failed setup`, null),
      );
    }
    const idle = this.idleThread();
    if (idle === undefined && this.queue.length >= this.options.maxQueue) {
      return this.refuse(new OverloadError(this.queue.length, this.name));
    }
    return new Promise<Res>((resolve, reject) => {
      const job: Job<Req, Res> = { id: this.nextId++, req, transfer, resolve, reject };
      if (idle) this.dispatch(idle, job);
      else this.queue.push(job);
    });
  }

  /** Requests waiting for a free thread (not counting those running). */
  get queueDepth(): number {
    return this.queue.length;
  }

  /** Threads running a request. */
  get busy(): number {
    return this.slots.filter((t) => t?.job !== undefined).length;
  }

  /** Threads that are set up and can serve (busy or idle); below PoolOptions.size while a slot is restarting or empty. */
  get size(): number {
    return this.slots.filter((t) => t?.state === 'ready').length;
  }

  stats(): PoolStats {
    return {
      size: this.size,
      slots: this.slots.length,
      starting: this.slots.filter((t) => t?.state === 'starting').length,
      emptySlots: this.slots.filter((t) => t === undefined).length,
      busy: this.busy,
      queued: this.queue.length,
      ...this.counts,
    };
  }

  /**
   * Refuses new work, rejects queued and running requests with PoolClosedError, and resolves once every
   * thread has exited. Drain callers first (e.g. stop the HTTP server) if running requests should finish.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const job of this.queue.splice(0)) {
      this.counts.failed++;
      job.reject(new PoolClosedError(`${this.name} was closed before this request ran`));
    }
    const threads = this.slots.filter((t) => t !== undefined);
    await Promise.all(
      threads.map((thread) => {
        // The caller hears at once; the thread itself is only terminated once its native work is over.
        const job = thread.job;
        thread.job = undefined;
        if (job) {
          this.counts.failed++;
          job.reject(new PoolClosedError(`${this.name} was closed while this request was running`));
        }
        const busy =
          thread.state === 'starting' ? thread.ready.then(noop, noop) : job ? thread.nextMessage() : undefined;
        return retire(thread, busy, this.name, this.logger);
      }),
    );
  }

  private refuse(err: Error): Promise<Res> {
    this.counts.rejected++;
    return Promise.reject(err);
  }

  private idleThread(): Thread<Req, Res, Info> | undefined {
    return this.slots.find((t) => t?.state === 'ready' && t.job === undefined);
  }

  private dispatch(thread: Thread<Req, Res, Info>, job: Job<Req, Res>): void {
    const msg: RequestMessage<Req> = { type: 'request', id: job.id, req: job.req };
    try {
      thread.worker.postMessage(msg, job.transfer);
      thread.job = job;
    } catch (err) {
      // Uncloneable request or bad transfer list: only this request is at fault; the thread stays free.
      this.counts.failed++;
      job.reject(err instanceof Error ? err : new Error(String(err)));
      this.pump();
    }
  }

  /** Hands the oldest queued requests to free threads. */
  private pump(): void {
    if (this.closing) return;
    for (let thread = this.idleThread(); thread && this.queue.length > 0; thread = this.idleThread()) {
      this.dispatch(thread, this.queue.shift()!);
    }
  }

  private onResult(thread: Thread<Req, Res, Info>, msg: Extract<WorkerMessage<Res, Info>, { type: 'result' }>): void {
    // A request rejected by close() may still answer while its thread is being retired.
    if (this.closing) return;
    const job = thread.job;
    if (job === undefined || job.id !== msg.id) {
      this.logger.error(
        { pool: this.name, slot: thread.slot, id: msg.id },
        'worker answered a request it was not given',
      );
      return;
    }
    thread.job = undefined;
    if (msg.ok) {
      this.counts.completed++;
      job.resolve(msg.res);
    } else {
      this.counts.failed++;
      job.reject(reviveError(msg.error));
    }
    this.pump();
  }

  private onDeath(thread: Thread<Req, Res, Info>, exitCode: number, lastError: Error | undefined): void {
    const job = thread.job;
    thread.job = undefined;
    if (this.closing) {
      if (job) {
        this.counts.failed++;
        job.reject(new PoolClosedError(`${this.name} was closed while this request was running`));
      }
      return;
    }
    this.counts.crashes++;
    const reason = lastError ? `: ${lastError.message}` : '';
    this.logger.warn(
      { pool: this.name, slot: thread.slot, exitCode, err: lastError, requestLost: job !== undefined },
      `${this.name} thread #${thread.slot} died (exit code ${exitCode}); starting a replacement`,
    );
    if (job) {
      this.counts.failed++;
      job.reject(
        new WorkerCrashError(
          `${this.name} thread #${thread.slot} died while running this request (exit code ${exitCode})${reason}`,
          exitCode,
          lastError ? { cause: lastError } : undefined,
        ),
      );
    }
    this.replace(thread.slot);
  }

  private replace(slot: number): void {
    const thread = new Thread<Req, Res, Info>(
      slot,
      this.script,
      this.options.init,
      this.name,
      (t, msg) => this.onResult(t, msg),
      (t, code, err) => this.onDeath(t, code, err),
    );
    this.slots[slot] = thread;
    thread.ready.then(
      () => this.pump(),
      (err: unknown) => {
        if (this.closing) return;
        // Setup failing again would most likely fail every time; retrying would be a crash loop.
        this.slots[slot] = undefined;
        this.counts.restartFailures++;
        this.logger.error({ pool: this.name, slot, err }, `${this.name} thread #${slot} failed setup; slot left empty`);
        if (!this.slots.some((t) => t !== undefined)) {
          for (const job of this.queue.splice(0)) {
            this.counts.failed++;
            job.reject(new WorkerCrashError(`${this.name} has no threads left: every replacement failed setup`, null));
          }
        }
      },
    );
  }
}

/** How long close() lets a running request or setup finish before terminating its thread regardless. */
export const RETIRE_GRACE_MS = 10_000;

const noop = (): void => {};

/**
 * Terminates a thread once `busy` (its running request or setup) has settled. onnxruntime and sharp end
 * asynchronous native work by calling back into the thread's JavaScript; a thread terminated before that
 * callback makes the addon throw a Napi::Error outside JavaScript, which aborts the whole process
 * (std::terminate, exit 134) instead of closing the pool.
 */
async function retire<Req, Res, Info>(
  thread: Thread<Req, Res, Info>,
  busy: Promise<void> | undefined,
  name: string,
  logger: Logger,
): Promise<void> {
  if (busy !== undefined && thread.state !== 'exited') {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), RETIRE_GRACE_MS);
    });
    const outcome = await Promise.race([busy, late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      logger.warn(
        { pool: name, slot: thread.slot, graceMs: RETIRE_GRACE_MS },
        `${name} thread #${thread.slot} still busy after ${RETIRE_GRACE_MS} ms; terminating it anyway`,
      );
    }
  }
  await thread.worker.terminate();
  await thread.exited;
}

const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (details, message) => console.warn(message, details),
  error: (details, message) => console.error(message, details),
  child: () => consoleLogger,
};
