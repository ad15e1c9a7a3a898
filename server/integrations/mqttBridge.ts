// The cameras and the facebank, as MQTT topics: listens to the registry's person events and camera states and to the
// facebank's changes (never calls into the pipeline), keeps who is where (presence.ts), and hands messages to the
// link, which never blocks. Home Assistant discovery configs follow the cameras and people as they come and go.
import type { Logger } from 'pino';
import type { CameraHealth, PersonEvent } from '../../streams/types.ts';
import type { Recognizer } from '../recognizer.ts';
import { FrigateIngest } from './frigate.ts';
import { MqttLink, type MqttLinkOptions } from './mqttLink.ts';
import { eventPayload, peoplePayload, personPayload } from './payloads.ts';
import { Presence } from './presence.ts';
import type { IntegrationSources } from './sources.ts';
import { cameraDiscovery, type DiscoveryConfig, personDiscovery, type TopicNames, topics } from './topics.ts';

/** Camera health is republished this often (its rates drift without a state change), as well as on every change. */
export const HEALTH_PERIOD_MS = 30_000;

export interface MqttBridgeOptions extends Omit<MqttLinkOptions, 'availabilityTopic' | 'onConnect' | 'logger'> {
  names: TopicNames;
  discovery: boolean;
  crops: boolean;
  /** The server's URL as subscribers reach it (crop URLs). */
  publicUrl: string;
  sources: IntegrationSources;
  /** Recognise Frigate's person snapshots (FRIGATE_URL). */
  frigate?: { url: string; topicPrefix: string; recognize: Recognizer } | undefined;
  logger: Logger;
}

export class MqttBridge {
  private readonly link: MqttLink;
  private readonly presence = new Presence();
  private readonly t: ReturnType<typeof topics>;
  /** Discovery config topics published, by the camera id or person name they belong to. */
  private readonly configs = new Map<string, string[]>();
  private cameraNames = new Map<string, string>();
  private people = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly onEventListener = (e: PersonEvent) => this.onEvent(e);
  private readonly onState = (h: CameraHealth) => this.publishHealth(h);
  private readonly onCameras = () => this.syncCameras();
  private readonly onFacebank = () => this.syncPeople();
  private frigate: FrigateIngest | undefined;

  constructor(private readonly o: MqttBridgeOptions) {
    this.t = topics(o.names);
    this.link = new MqttLink({
      ...o,
      availabilityTopic: this.t.availability,
      logger: o.logger,
    });
    if (o.discovery)
      this.link.subscribe(this.t.discoveryFilter, (topic, payload, retained) => {
        this.clearStale(topic, payload, retained);
      });
    if (o.frigate) this.ingestFrigate(o.frigate);
    const { cameras, facebank } = o.sources;
    cameras.on('event', this.onEventListener);
    cameras.on('state', this.onState);
    cameras.on('cameras', this.onCameras);
    facebank.on('changed', this.onFacebank);
    this.syncCameras();
    this.syncPeople();
    this.timer = setInterval(() => {
      for (const h of cameras.health()) this.publishHealth(h);
    }, HEALTH_PERIOD_MS);
    this.timer.unref();
  }

  health() {
    return this.link.health();
  }

  get frigateStats(): FrigateIngest['stats'] | undefined {
    return this.frigate?.stats;
  }

  private ingestFrigate(o: NonNullable<MqttBridgeOptions['frigate']>): void {
    const frigate = new FrigateIngest({
      url: o.url,
      recognize: o.recognize,
      logger: this.o.logger,
      publish: (result) => {
        this.link.publish(this.t.frigateEvents, JSON.stringify(result));
        for (const name of result.matches) {
          if (!this.people.has(name)) continue;
          this.presence.remember(name, result.camera, result.at);
          this.link.setState(this.t.person(name), this.personJson(name));
        }
      },
    });
    this.frigate = frigate;
    this.link.subscribe(`${o.topicPrefix}/events`, (_topic, payload) => void frigate.onMessage(payload));
  }

  /** Leaves nobody in view behind (the server no longer watches), marks the entities unavailable, disconnects. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const { cameras, facebank } = this.o.sources;
    cameras.off('event', this.onEventListener);
    cameras.off('state', this.onState);
    cameras.off('cameras', this.onCameras);
    facebank.off('changed', this.onFacebank);
    const final = new Map<string, string>();
    const now = Date.now();
    for (const id of this.cameraNames.keys()) {
      this.presence.clearCamera(id);
      final.set(this.t.people(id), JSON.stringify(peoplePayload(id, this.cameraName(id), this.presence.view(id), now)));
    }
    for (const name of this.people) final.set(this.t.person(name), this.personJson(name));
    await this.link.close(final);
  }

  private cameraName = (id: string) => this.cameraNames.get(id) ?? id;

  private onEvent(event: PersonEvent): void {
    const name = this.cameraName(event.cameraId);
    const person = this.presence.apply(event);
    this.link.publish(this.t.events, JSON.stringify(eventPayload(event, name, this.o.publicUrl)));
    this.publishPeople(event.cameraId);
    if (person !== undefined && this.people.has(person))
      this.link.setState(this.t.person(person), this.personJson(person));
    if (this.o.crops && event.type === 'person_appeared' && event.crop && event.crop.byteLength > 0)
      this.link.setState(this.t.crop(event.cameraId), Buffer.from(event.crop));
  }

  private publishPeople(cameraId: string): void {
    const payload = peoplePayload(cameraId, this.cameraName(cameraId), this.presence.view(cameraId), Date.now());
    this.link.setState(this.t.people(cameraId), JSON.stringify(payload));
  }

  private publishHealth(h: CameraHealth): void {
    if (this.cameraNames.has(h.id)) this.link.setState(this.t.health(h.id), JSON.stringify({ ...h, at: Date.now() }));
  }

  private personJson(name: string): string {
    return JSON.stringify(personPayload(name, this.presence.sighting(name), this.cameraName));
  }

  private syncCameras(): void {
    const { cameras } = this.o.sources;
    const list = cameras.list();
    const now = new Map(list.map((c) => [c.id, c.name]));
    for (const id of this.cameraNames.keys()) {
      if (now.has(id)) continue;
      this.unpublish(`camera:${id}`);
      for (const topic of [this.t.people(id), this.t.health(id), this.t.crop(id)]) this.link.setState(topic, '');
      for (const person of this.presence.clearCamera(id))
        if (this.people.has(person)) this.link.setState(this.t.person(person), this.personJson(person));
    }
    const added = list.filter((c) => !this.cameraNames.has(c.id) || this.cameraNames.get(c.id) !== c.name);
    this.cameraNames = now;
    for (const camera of added) {
      // Browser webcams come and go with a page: their topics are published, but no Home Assistant device.
      if (camera.kind !== 'webrtc') this.announce(`camera:${camera.id}`, cameraDiscovery(this.o.names, camera));
      this.publishPeople(camera.id);
      this.publishHealth(camera.health);
    }
  }

  private syncPeople(): void {
    const { facebank, cameras } = this.o.sources;
    const now = new Set(facebank.people().map((p) => p.name));
    for (const name of this.people) {
      if (now.has(name)) continue;
      this.unpublish(`person:${name}`);
      this.link.setState(this.t.person(name), '');
      this.presence.forgetPerson(name);
    }
    const added = [...now].filter((name) => !this.people.has(name));
    this.people = now;
    for (const name of added) {
      // The last sighting from before this start, so "last seen" survives a restart.
      const [last] = cameras.events.list({ name, limit: 1 });
      if (last) this.presence.remember(name, last.cameraId, last.at);
      this.announce(`person:${name}`, personDiscovery(this.o.names, name));
      this.link.setState(this.t.person(name), this.personJson(name));
    }
  }

  private announce(owner: string, configs: DiscoveryConfig[]): void {
    if (!this.o.discovery) return;
    this.configs.set(
      owner,
      configs.map((c) => c.topic),
    );
    for (const { topic, config } of configs) this.link.setState(topic, JSON.stringify(config));
  }

  private unpublish(owner: string): void {
    for (const topic of this.configs.get(owner) ?? []) this.link.setState(topic, '');
    this.configs.delete(owner);
  }

  /** A retained config of ours for a camera or person that is gone (removed while the server was down): cleared. */
  private clearStale(topic: string, payload: Buffer, retained: boolean): void {
    if (!retained || payload.length === 0) return;
    for (const owned of this.configs.values()) if (owned.includes(topic)) return;
    // Ours when it reads our availability topic: another server on the broker has its own prefix.
    let config: { availability_topic?: unknown };
    try {
      config = JSON.parse(payload.toString('utf8')) as typeof config;
    } catch {
      return;
    }
    if (config.availability_topic !== this.t.availability) return;
    this.o.logger.info({ component: 'mqtt', topic }, 'clearing a Home Assistant config left from an earlier run');
    this.link.setState(topic, '');
  }
}
