// Webhooks: each person event a hook's filters let through is POSTed to it as JSON (payloads.ts), signed with the
// HMAC-SHA256 of the body when the hook has a secret. Each hook delivers in order, one event at a time, off the
// pipeline's path: a slow or dead receiver delays only its own queue, which is bounded (the oldest dropped, counted).
// A failed attempt (no answer, 5xx, 408, 429) is retried after 1 s, 2 s, 4 s, …; then the event counts as failed.
import { createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { UNKNOWN } from '../../facebank/matcher.ts';
import { redactUrl } from '../../streams/sources/credentials.ts';
import type { WebhookHealth } from './health.ts';
import type { EventPayload } from './payloads.ts';
import type { WebhookSettings } from './settings.ts';

export const SIGNATURE_HEADER = 'X-Facerec-Signature';
/** Events waiting per hook before the oldest are dropped. */
export const MAX_PENDING = 1000;
const FIRST_RETRY_MS = 1000;

export interface WebhookOptions {
  retries: number;
  timeoutMs: number;
  logger: Logger;
}

/** `sha256=<hex>` of the body, as the receiver recomputes it with the shared secret. */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function wants(hook: WebhookSettings, e: EventPayload): boolean {
  if (!hook.events.includes(e.type)) return false;
  if (hook.cameras && !hook.cameras.includes(e.camera)) return false;
  if (e.name === UNKNOWN) return hook.unknown;
  return !hook.people || hook.people.includes(e.name);
}

const retryable = (status: number) => status >= 500 || status === 408 || status === 429;

class Hook {
  private readonly pending: EventPayload[] = [];
  private readonly stats: Omit<WebhookHealth, 'url' | 'pending'> = {
    delivered: 0,
    failures: 0,
    retries: 0,
    dropped: 0,
  };
  private running = false;
  private failing = false;
  private readonly abort = new AbortController();

  constructor(
    readonly settings: WebhookSettings,
    private readonly o: WebhookOptions,
  ) {}

  enqueue(event: EventPayload): void {
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.stats.dropped++;
    }
    this.pending.push(event);
    if (!this.running) void this.drain();
  }

  health(): WebhookHealth {
    return { url: redactUrl(this.settings.url), pending: this.pending.length, ...this.stats };
  }

  close(): void {
    this.abort.abort();
    this.pending.length = 0;
  }

  private async drain(): Promise<void> {
    this.running = true;
    for (let event = this.pending.shift(); event && !this.abort.signal.aborted; event = this.pending.shift()) {
      await this.deliver(event);
    }
    this.running = false;
  }

  private async deliver(event: EventPayload): Promise<void> {
    const body = JSON.stringify(event);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'X-Facerec-Event': event.type };
    if (this.settings.secret) headers[SIGNATURE_HEADER] = signature(this.settings.secret, body);
    for (let attempt = 0; ; attempt++) {
      const again = await this.attempt(body, headers);
      if (again === 'done' && this.failing) {
        this.failing = false;
        this.o.logger.info({ component: 'webhooks', url: redactUrl(this.settings.url) }, 'webhook delivers again');
      }
      if (again === 'done' || this.abort.signal.aborted) return;
      if (again === 'give-up' || attempt >= this.o.retries) {
        // Once per streak of failures: a dead receiver would otherwise log every event.
        const log = this.failing ? this.o.logger.debug.bind(this.o.logger) : this.o.logger.warn.bind(this.o.logger);
        this.failing = true;
        this.stats.failures++;
        log(
          { component: 'webhooks', url: redactUrl(this.settings.url), event: event.id, status: this.stats.lastStatus },
          `webhook failed after ${attempt + 1} attempts: ${this.stats.lastError}`,
        );
        return;
      }
      this.stats.retries++;
      await sleep(FIRST_RETRY_MS * 2 ** attempt, this.abort.signal);
    }
  }

  private async attempt(body: string, headers: Record<string, string>): Promise<'done' | 'retry' | 'give-up'> {
    this.stats.lastAt = Date.now();
    try {
      const res = await fetch(this.settings.url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      await res.body?.cancel();
      this.stats.lastStatus = res.status;
      if (res.ok) {
        this.stats.delivered++;
        delete this.stats.lastError;
        return 'done';
      }
      this.stats.lastError = `HTTP ${res.status}`;
      return retryable(res.status) ? 'retry' : 'give-up';
    } catch (err) {
      delete this.stats.lastStatus;
      const e = err as Error;
      const cause = e.cause instanceof Error ? e.cause.message : e.message;
      this.stats.lastError = e.name === 'TimeoutError' ? `no answer within ${this.o.timeoutMs} ms` : redactUrl(cause);
      return 'retry';
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      ok();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

export class Webhooks {
  private readonly hooks: Hook[];

  constructor(hooks: readonly WebhookSettings[], o: WebhookOptions) {
    this.hooks = hooks.map((h) => new Hook(h, o));
  }

  get size(): number {
    return this.hooks.length;
  }

  /** Queues the event for every hook that wants it; returns at once. */
  send(event: EventPayload): void {
    for (const hook of this.hooks) if (wants(hook.settings, event)) hook.enqueue(event);
  }

  health(): WebhookHealth[] {
    return this.hooks.map((h) => h.health());
  }

  close(): void {
    for (const hook of this.hooks) hook.close();
  }
}
