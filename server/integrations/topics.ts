// MQTT topic names and the Home Assistant discovery configs
// (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery): one device per camera and one per enrolled
// person, their entities reading the retained state topics, available while the availability topic says online.
import { createHash } from 'node:crypto';

export interface TopicNames {
  /** First level of every topic and of every Home Assistant id. */
  prefix: string;
  discoveryPrefix: string;
}

/** MQTT topic names may not contain the wildcards; person names may (no slash: names.ts refuses it). */
const level = (s: string) => s.replace(/[+#]/gu, '_');

export const topics = (t: TopicNames) => ({
  availability: `${t.prefix}/status`,
  events: `${t.prefix}/events`,
  /** Names recognised in Frigate's snapshots. */
  frigateEvents: `${t.prefix}/frigate/events`,
  people: (cameraId: string) => `${t.prefix}/${level(cameraId)}/people`,
  health: (cameraId: string) => `${t.prefix}/${level(cameraId)}/health`,
  crop: (cameraId: string) => `${t.prefix}/${level(cameraId)}/crop`,
  person: (name: string) => `${t.prefix}/person/${level(name)}`,
  /** Every discovery config, to find ones left behind by earlier runs. */
  discoveryFilter: `${t.discoveryPrefix}/+/+/config`,
});

/** Ids Home Assistant accepts ([a-zA-Z0-9_-]), distinct for names that differ only in case or accents. */
export function personKey(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/gu, '_')
    .replace(/^_|_$/gu, '');
  return `${slug.slice(0, 40) || 'person'}_${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

export interface DiscoveryConfig {
  /** `<discovery prefix>/<component>/<object id>/config` */
  topic: string;
  config: Record<string, unknown>;
}

type Entity = { component: 'sensor' | 'binary_sensor'; key: string; fields: Record<string, unknown> };

function configs(t: TopicNames, deviceKey: string, device: Record<string, unknown>, entities: Entity[]) {
  return entities.map(({ component, key, fields }): DiscoveryConfig => {
    const id = `${t.prefix}_${deviceKey}_${key}`;
    return {
      topic: `${t.discoveryPrefix}/${component}/${id}/config`,
      config: {
        unique_id: id,
        availability_topic: topics(t).availability,
        device: { identifiers: [`${t.prefix}_${deviceKey}`], manufacturer: 'facerec', ...device },
        ...fields,
      },
    };
  });
}

/** A camera's device: who is in view, whether a known person is, and the camera's state. */
export function cameraDiscovery(t: TopicNames, camera: { id: string; name: string }): DiscoveryConfig[] {
  const people = topics(t).people(camera.id);
  return configs(t, `camera_${camera.id}`, { name: camera.name, model: 'camera' }, [
    {
      component: 'sensor',
      key: 'people',
      fields: {
        name: 'People in view',
        icon: 'mdi:account-group',
        state_topic: people,
        value_template: "{{ (value_json.people | join(', ') if value_json.people else 'nobody')[:255] }}",
        json_attributes_topic: people,
      },
    },
    {
      component: 'binary_sensor',
      key: 'known_present',
      fields: {
        name: 'Known person present',
        device_class: 'occupancy',
        state_topic: people,
        value_template: "{{ 'ON' if value_json.known else 'OFF' }}",
      },
    },
    {
      component: 'sensor',
      key: 'state',
      fields: {
        name: 'Camera state',
        entity_category: 'diagnostic',
        state_topic: topics(t).health(camera.id),
        value_template: '{{ value_json.state }}',
        json_attributes_topic: topics(t).health(camera.id),
      },
    },
  ]);
}

/** A person's device: where they were last seen and when, and whether some camera sees them now. */
export function personDiscovery(t: TopicNames, name: string): DiscoveryConfig[] {
  const state = topics(t).person(name);
  return configs(t, `person_${personKey(name)}`, { name, model: 'person' }, [
    {
      component: 'sensor',
      key: 'last_camera',
      fields: {
        name: 'Last seen camera',
        icon: 'mdi:cctv',
        state_topic: state,
        value_template: '{{ value_json.lastCameraName | default(None) }}',
        json_attributes_topic: state,
      },
    },
    {
      component: 'sensor',
      key: 'last_seen',
      fields: {
        name: 'Last seen',
        device_class: 'timestamp',
        state_topic: state,
        value_template: '{{ value_json.lastSeen | default(None) }}',
      },
    },
    {
      component: 'binary_sensor',
      key: 'in_view',
      fields: {
        name: 'In view',
        device_class: 'presence',
        state_topic: state,
        value_template: "{{ 'ON' if value_json.inView else 'OFF' }}",
      },
    },
  ]);
}
