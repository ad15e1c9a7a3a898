// The connection to the MQTT broker. Publishing never waits and never throws: callers (the cameras' event
// listeners) hand a message over and return. While the broker is away, state topics keep only their latest value
// (republished, with the availability and discovery configs, on every connect: a broker without persistence
// forgets retained messages when it restarts), and other messages wait in a bounded queue whose overflow drops
// the oldest, counted. Reconnects back off from RECONNECT.firstMs to RECONNECT.maxMs.
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactUrl } from '../../streams/sources/credentials.ts';
import { ConfigError } from '../config.ts';
import type { MqttHealth } from './health.ts';

export const RECONNECT = { firstMs: 500, maxMs: 10_000 } as const;
/** Payload of the availability topic (Home Assistant's defaults). */
export const AVAILABILITY = { online: 'online', offline: 'offline' } as const;

export interface MqttLinkOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  rejectUnauthorized: boolean;
  clientId: string;
  /** Retained `online` on connect; the broker publishes `offline` there when the connection is lost. */
  availabilityTopic: string;
  bufferSize: number;
  logger: Logger;
  /** Called after each (re)connect, once the state has been republished. */
  onConnect?: () => void;
}

type Payload = string | Buffer;

export class MqttLink {
  private readonly client: MqttClient;
  private readonly state = new Map<string, Payload>();
  private readonly queue: Array<{ topic: string; payload: Payload }> = [];
  private readonly log: Logger;
  private readonly counts = { published: 0, dropped: 0, reconnects: 0, connects: 0 };
  private lastError: string | undefined;
  private connectedAt: number | undefined;
  private attempts = 0;
  private closed = false;

  constructor(private readonly o: MqttLinkOptions) {
    this.log = o.logger.child({ component: 'mqtt' });
    this.client = mqtt.connect(o.url, clientOptions(o));
    this.client.on('connect', () => this.onConnect());
    this.client.on('reconnect', () => {
      this.counts.reconnects++;
      // The period mqtt.js waits after this attempt fails, should it fail.
      this.attempts++;
      this.client.options.reconnectPeriod = Math.min(RECONNECT.maxMs, RECONNECT.firstMs * 2 ** this.attempts);
    });
    this.client.on('close', () => {
      if (this.connectedAt !== undefined && !this.closed)
        this.log.warn({ url: redactUrl(o.url) }, 'MQTT broker connection lost; reconnecting');
      this.connectedAt = undefined;
    });
    this.client.on('error', (err) => {
      const message = redactUrl(err.message);
      if (message !== this.lastError) this.log.warn({ url: redactUrl(o.url), err: message }, 'MQTT broker error');
      this.lastError = message;
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** Retained state: only the latest payload of a topic matters. An empty payload removes the retained message. */
  setState(topic: string, payload: Payload): void {
    if (this.closed) return;
    this.state.set(topic, payload);
    if (this.client.connected) this.send(topic, payload, true);
  }

  /** A message (an event, a crop) that is delivered once; queued while the broker is away. */
  publish(topic: string, payload: Payload): void {
    if (this.closed) return;
    if (this.client.connected) {
      this.send(topic, payload, false);
      return;
    }
    if (this.o.bufferSize === 0) {
      this.counts.dropped++;
      return;
    }
    if (this.queue.length >= this.o.bufferSize) {
      this.queue.shift();
      this.counts.dropped++;
    }
    this.queue.push({ topic, payload });
  }

  /** Receives the messages on `filter` (re-subscribed after every reconnect). */
  subscribe(filter: string, onMessage: (topic: string, payload: Buffer, retained: boolean) => void): void {
    this.client.on('message', (topic, payload, packet) => {
      if (topicMatches(filter, topic)) onMessage(topic, payload, packet.retain);
    });
    this.client.subscribe(filter, { qos: 1 }, (err) => {
      if (err) this.log.warn({ filter, err: err.message }, 'MQTT subscribe failed');
    });
  }

  health(): MqttHealth {
    return {
      enabled: true,
      url: redactUrl(this.o.url),
      connected: this.client.connected,
      ...(this.connectedAt !== undefined ? { connectedSince: this.connectedAt } : {}),
      published: this.counts.published,
      buffered: this.queue.length,
      dropped: this.counts.dropped,
      reconnects: this.counts.reconnects,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Publishes `final` (retained state to leave behind, e.g. nobody in view), then `offline`, and disconnects;
   * waits at most `timeoutMs` for a broker that is away.
   */
  async close(final: ReadonlyMap<string, Payload> = new Map(), timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const graceful = async () => {
      if (!this.client.connected) return;
      for (const [topic, payload] of final) this.send(topic, payload, true);
      await this.client.publishAsync(this.o.availabilityTopic, AVAILABILITY.offline, { qos: 1, retain: true });
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      graceful().catch(() => undefined),
      new Promise((ok) => {
        timer = setTimeout(ok, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    await this.client.endAsync(!this.client.connected);
  }

  private onConnect(): void {
    const first = this.counts.connects++ === 0;
    this.attempts = 0;
    this.client.options.reconnectPeriod = RECONNECT.firstMs;
    this.connectedAt = Date.now();
    this.lastError = undefined;
    this.log.info(
      { url: redactUrl(this.o.url), buffered: this.queue.length },
      first ? 'MQTT broker connected' : 'MQTT broker connected again',
    );
    this.send(this.o.availabilityTopic, AVAILABILITY.online, true);
    for (const [topic, payload] of this.state) this.send(topic, payload, true);
    for (const { topic, payload } of this.queue.splice(0)) this.send(topic, payload, false);
    this.o.onConnect?.();
  }

  private send(topic: string, payload: Payload, retain: boolean): void {
    // An empty retained payload deletes the retained message; once sent, there is nothing to republish.
    if (retain && payload.length === 0) this.state.delete(topic);
    this.counts.published++;
    this.client.publish(topic, payload, { qos: 1, retain }, (err) => {
      if (err && !this.closed) this.log.debug({ topic, err: err.message }, 'MQTT publish failed');
    });
  }
}

/** MQTT filter matching: `+` is one level, a final `#` any number. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

function clientOptions(o: MqttLinkOptions): IClientOptions {
  const file = (setting: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`${setting}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const ca = file('MQTT_CA_FILE', o.caFile);
  const cert = file('MQTT_CERT_FILE', o.certFile);
  const key = file('MQTT_KEY_FILE', o.keyFile);
  return {
    clientId: o.clientId,
    clean: true,
    reconnectPeriod: RECONNECT.firstMs,
    connectTimeout: 10_000,
    // Our own bounded queue holds messages while disconnected; mqtt.js's would grow without bound.
    queueQoSZero: false,
    will: { topic: o.availabilityTopic, payload: Buffer.from(AVAILABILITY.offline), qos: 1, retain: true },
    rejectUnauthorized: o.rejectUnauthorized,
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}
