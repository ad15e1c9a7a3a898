// The connection to Redis that carries the hub's messages between nodes (REDIS_URL): two node-redis clients, one
// to publish and one to subscribe (a subscribing connection can do nothing else). Redis is never needed to run:
// the server starts while it is away, and an outage or restart never stops a node. Both clients reconnect every
// RECONNECT_MAX_MS at most, and the subscriber re-subscribes its channels, so dashboards resume about a second
// after Redis is back. The publisher has no offline queue: while Redis is away a publish fails at once (the
// adapter and the relay drop it) instead of piling up previews in memory; a Redis that hangs with the connection
// open fails them after PUBLISH_TIMEOUT_MS, with at most PUBLISH_QUEUE_MAX waiting (the adapter delivers to this
// node's own clients only once its publish is done or failed). Such a Redis is noticed by a ping every PROBE_MS
// left unanswered for PROBE_TIMEOUT_MS (long enough not to take a busy event loop for a hang): health says
// `connected: false` until it answers again. The outage is logged once.
import type { Logger } from 'pino';
import { createClient } from 'redis';
import { z } from 'zod';
import { redactUrl } from '../../streams/sources/credentials.ts';

/** Reconnect delays back off from 100 ms to this: Redis back → link up again within about this long. */
export const RECONNECT_MAX_MS = 1000;
const PUBLISH_TIMEOUT_MS = 1000;
const PUBLISH_QUEUE_MAX = 1000;
/** How often the link checks that Redis still answers (a hang keeps the socket open), and how long it waits. */
const PROBE_MS = 1000;
const PROBE_TIMEOUT_MS = 3000;

export const RedisHealth = z
  .union([
    z.object({ enabled: z.literal(false) }),
    z.object({
      enabled: z.literal(true),
      url: z.string().meta({ description: 'REDIS_URL, credentials hidden' }),
      connected: z.boolean().meta({
        description: 'both connections (publish and subscribe) are up, and Redis answered the last command in time',
      }),
      connectedSince: z.number().optional().meta({ description: 'epoch milliseconds' }),
      outages: z.number().meta({ description: 'times the link went down since the start' }),
      lastError: z.string().optional(),
    }),
  ])
  .meta({
    id: 'RedisHealth',
    description: "the link to the other nodes' dashboards (README: Dashboards across nodes); off without REDIS_URL",
  });
export type RedisHealth = z.infer<typeof RedisHealth>;

export type RedisClient = ReturnType<typeof createClient>;
type Listener = (message: Buffer, channel: Buffer) => unknown;
export interface AdapterClient {
  sPublish(channel: string, message: string | Buffer): Promise<number>;
  sendCommand(args: string[]): Promise<unknown>;
  sSubscribe(channels: string | string[], listener: Listener, bufferMode: true): Promise<void>;
  sUnsubscribe(channels?: string | string[], listener?: Listener, bufferMode?: true): Promise<void>;
}

function adapterClient(client: RedisClient, link: Pick<RedisLink, 'publish'>): AdapterClient {
  const ignore = () => undefined;
  return {
    sPublish: (channel, message) => link.publish(channel, message),
    sendCommand: (args) => client.sendCommand(args),
    sSubscribe: (channels, listener, bufferMode) => client.sSubscribe(channels, listener, bufferMode).catch(ignore),
    sUnsubscribe: (channels, listener, bufferMode) => client.sUnsubscribe(channels, listener, bufferMode).catch(ignore),
  };
}

/** `command`, or a rejection after `ms`: node-redis's own timeout does not reject a command already written. */
function withTimeout<T>(command: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([command, late]).finally(() => clearTimeout(timer));
}

export class RedisLink {
  private readonly pub: RedisClient;
  readonly sub: RedisClient;
  private readonly log: Logger;
  private readonly url: string;
  private readonly readyListeners = new Set<() => void>();
  private connectedSince: number | undefined;
  private downSince: number | undefined;
  private outages = 0;
  private lastError: string | undefined;
  private closed = false;
  /** Date.now() when a command went unanswered (Redis hangs), until one is answered again. */
  private unansweredSince: number | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(url: string, logger: Logger) {
    this.url = url;
    this.log = logger.child({ component: 'redis' });
    const options = {
      url,
      socket: { reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, RECONNECT_MAX_MS) },
    };
    this.pub = createClient({ ...options, disableOfflineQueue: true, commandsQueueMaxLength: PUBLISH_QUEUE_MAX });
    // The subscriber keeps its queue: subscriptions made while Redis is away are sent when it is back.
    this.sub = createClient(options);
    for (const client of [this.pub, this.sub]) {
      // Without a listener, an 'error' event would throw and end the process.
      client.on('error', (err: Error) => this.down(err));
      client.on('ready', () => this.ready());
    }
  }

  /** Connects in the background (retrying for ever); never throws. */
  start(): void {
    for (const client of [this.pub, this.sub]) {
      client.connect().catch((err: unknown) => this.down(err instanceof Error ? err : new Error(String(err))));
    }
    this.probeTimer = setInterval(() => this.probe(), PROBE_MS);
    this.probeTimer.unref();
  }

  get up(): boolean {
    return this.pub.isReady && this.sub.isReady && this.unansweredSince === undefined;
  }

  /** Called each time the link is up (at the start and after every outage). */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  health(): RedisHealth {
    return {
      enabled: true,
      url: redactUrl(this.url),
      connected: this.up,
      ...(this.connectedSince !== undefined ? { connectedSince: this.connectedSince } : {}),
      outages: this.outages,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * The two clients as @socket.io/redis-adapter uses them. It calls sSubscribe and sUnsubscribe without handling
   * their promises, which reject when the connection drops with them in flight or once the client is closed: an
   * unhandled rejection would end the process, so these catch theirs. (It tells node-redis from ioredis by the
   * presence of sSubscribe, hence the same four methods on both.)
   */
  adapterClients(): { pub: AdapterClient; sub: AdapterClient } {
    return { pub: adapterClient(this.pub, this), sub: adapterClient(this.sub, this) };
  }

  /** Publishes on a sharded channel: how many clients received it; fails at once while Redis is away. */
  publish(channel: string, message: string | Buffer): Promise<number> {
    return withTimeout(this.pub.sPublish(channel, message), PUBLISH_TIMEOUT_MS);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.probeTimer);
    this.readyListeners.clear();
    // Not client.close(): it waits for the commands in flight, for ever if Redis has just gone and the link has
    // not noticed yet. Nothing in flight matters at shutdown (Redis drops a closed connection's subscriptions),
    // and destroy() also ends the retries of a link that is down.
    for (const client of [this.pub, this.sub]) if (client.isOpen) client.destroy();
  }

  private down(err: Error): void {
    if (this.closed) return;
    this.lastError = redactUrl(err.message || err.name);
    if (this.downSince !== undefined) return;
    this.downSince = Date.now();
    const wasUp = this.connectedSince !== undefined;
    this.connectedSince = undefined;
    if (wasUp) this.outages++;
    this.log.warn(
      { url: redactUrl(this.url), err: this.lastError },
      wasUp
        ? 'Redis link lost: dashboards on other nodes miss this node’s cameras until it is back (reconnecting)'
        : 'Redis not reachable: dashboards on other nodes miss this node’s cameras until it is (retrying)',
    );
  }

  private probe(): void {
    if (this.closed || this.probing || !this.pub.isReady) return;
    this.probing = true;
    withTimeout(this.pub.ping(), PROBE_TIMEOUT_MS)
      .then(
        () => this.answering(),
        (err: Error) => {
          if (this.pub.isReady) this.unanswered(err);
        },
      )
      .finally(() => {
        this.probing = false;
      });
  }

  private unanswered(err: Error): void {
    if (this.closed || this.unansweredSince !== undefined) return;
    this.unansweredSince = Date.now();
    this.down(err);
  }

  private answering(): void {
    if (this.unansweredSince === undefined) return;
    this.unansweredSince = undefined;
    this.ready();
  }

  private ready(): void {
    if (this.closed || !this.up) return;
    const downFor = this.downSince === undefined ? undefined : Date.now() - this.downSince;
    this.downSince = undefined;
    this.connectedSince = Date.now();
    this.lastError = undefined;
    if (downFor === undefined) this.log.info({ url: redactUrl(this.url) }, 'Redis link up');
    else this.log.info({ url: redactUrl(this.url), downMs: downFor }, 'Redis link back');
    for (const listener of this.readyListeners) listener();
  }
}
