// The broker link on its own, against a real mosquitto: the bounded buffer while the broker is away (the oldest
// dropped and counted, the rest delivered in order), state republished after a broker restart without
// persistence, and the last will that marks the server offline when its connection dies.
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mosquitto, startMosquitto } from '../../test/support/mosquitto.ts';
import { until as waitUntil } from '../../test/support/waits.ts';
import { MqttLink, type MqttLinkOptions } from './mqttLink.ts';

// Not product promises: generous bounds for a loaded 2-core machine.
const WAIT_MS = 20_000;

const until = <T>(what: string, check: Parameters<typeof waitUntil<T>>[1], timeoutMs = WAIT_MS) =>
  waitUntil<T>(what, check, timeoutMs);

describe('MQTT link', () => {
  let broker: Mosquitto;
  /** Keeps sessions across a restart: a watcher subscribed before the outage misses nothing, whoever reconnects first. */
  let durable: Mosquitto;
  const links: MqttLink[] = [];
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    broker = await startMosquitto();
    durable = await startMosquitto({ persistence: true });
  });
  afterAll(async () => {
    await Promise.all(links.map((l) => l.close(new Map(), 200)));
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.stop();
    await durable?.stop();
  });

  const link = (o: Partial<MqttLinkOptions> = {}) => {
    const l = new MqttLink({
      url: broker.url,
      rejectUnauthorized: true,
      clientId: `link-${links.length}`,
      availabilityTopic: 'test/status',
      bufferSize: 3,
      logger: pino({ level: 'silent' }),
      ...o,
    });
    links.push(l);
    return l;
  };
  const watch = async (filter: string, on = broker, options: mqtt.IClientOptions = {}) => {
    const client = await mqtt.connectAsync(on.url, { reconnectPeriod: 100, ...options });
    clients.push(client);
    const got: { topic: string; text: string; retain: boolean }[] = [];
    client.on('message', (topic, payload, p) => got.push({ topic, text: payload.toString(), retain: p.retain }));
    await client.subscribeAsync(filter, { qos: 1 });
    return { client, got };
  };

  it('keeps the newest messages up to the bound while the broker is away, counts the rest, delivers them after', async () => {
    const l = link({ url: durable.url });
    const { got } = await watch('test/events', durable, { clientId: 'watcher', clean: false });
    await until('connected', () => l.connected);
    await durable.pause();
    await until('the link to notice', () => !l.connected);
    for (let i = 1; i <= 5; i++) l.publish('test/events', `event ${i}`);
    expect(l.health()).toMatchObject({ connected: false, buffered: 3, dropped: 2 });
    await durable.resume();
    await until('the buffered events', () => got.length === 3);
    expect(got.map((m) => m.text)).toEqual(['event 3', 'event 4', 'event 5']);
    await until('connected again', () => l.connected);
    expect(l.health()).toMatchObject({ connected: true, buffered: 0, dropped: 2 });
  });

  it('publishes its state again to a broker that restarted empty, only the latest value of each topic', async () => {
    const l = link();
    await until('connected', () => l.connected);
    l.setState('test/state', 'one');
    await broker.pause();
    await until('the link to notice', () => !l.connected);
    l.setState('test/state', 'two');
    l.setState('test/gone', 'three');
    l.setState('test/gone', ''); // removed while away: never published
    expect(l.health()).toMatchObject({ buffered: 0, dropped: 0 });
    await broker.resume();
    await until('connected again', () => l.connected);
    const fresh = await watch('test/#');
    await until('the retained state', () => fresh.got.some((m) => m.topic === 'test/state'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fresh.got.map((m) => `${m.topic}=${m.text}${m.retain ? '' : ' (not retained)'}`).sort()).toEqual([
      'test/state=two',
      'test/status=online',
    ]);
  });

  it('is marked offline by its last will when its connection dies, and online again when it reconnects', async () => {
    const l = link({ clientId: 'dies', availabilityTopic: 'will/status' });
    await until('connected', () => l.connected);
    const { got } = await watch('will/status');
    await until('online', () => got.some((m) => m.text === 'online'));
    // The socket dies without a DISCONNECT (a crash, a cable pulled): the broker publishes the will.
    const stream = (l as unknown as { client: MqttClient }).client.stream;
    stream.destroy();
    await until('offline from the will', () => got.some((m) => m.text === 'offline'));
    await until('online again after the reconnect', () => got.at(-1)?.text === 'online');
  });

  it('refuses a TLS file it cannot read, naming the setting', () => {
    expect(() => link({ url: 'mqtts://127.0.0.1:1', caFile: '/nonexistent/ca.pem' })).toThrow(
      /^MQTT_CA_FILE: cannot read \/nonexistent\/ca\.pem: ENOENT/u,
    );
  });
});
