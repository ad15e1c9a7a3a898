// The settings of the integrations (MQTT with Home Assistant discovery, webhooks), as config.ts takes them: each
// default and limit is written here once, and the README's tables are rendered from them.
import { z } from 'zod';
import { fileOnlyList, flag, identifier, integer, optionalText, optionalUrl } from '../configFields.ts';

const EVENT_TYPES = ['person_appeared', 'person_left'] as const;

/** One webhook: where to POST, how to sign, and which events it wants (every event when no filter is given). */
export const WebhookSettings = z
  .object({
    url: z.string().refine((v) => /^https?:\/\//u.test(v) && URL.canParse(v), 'must be an http:// or https:// URL'),
    secret: z.string().min(8, 'must be at least 8 characters').optional(),
    /** Camera ids; absent: every camera. */
    cameras: z.array(z.string().min(1)).min(1).optional(),
    /** Person names; absent: everyone. `Unknown` is governed by `unknown`, not by this list. */
    people: z.array(z.string().min(1)).min(1).optional(),
    unknown: z.boolean().default(true),
    events: z
      .array(z.enum(EVENT_TYPES))
      .min(1)
      .default([...EVENT_TYPES]),
  })
  .strict();
export type WebhookSettings = z.infer<typeof WebhookSettings>;

export const mqttSettings = {
  mqttUrl: optionalUrl({
    schemes: ['mqtt', 'mqtts', 'ws', 'wss'],
    shownDefault: 'none (off)',
    description: 'the MQTT broker; MQTT publishing (and Home Assistant discovery) is on when set',
  }),
  mqttUsername: optionalText({ minLength: 1, shownDefault: 'none', description: "the broker's user name" }),
  mqttPassword: optionalText({ minLength: 1, shownDefault: 'none', description: "the broker's password" }),
  mqttCaFile: optionalText({
    minLength: 1,
    shownDefault: 'system CAs',
    description: 'PEM file of the CA that signed the broker (mqtts://, wss://)',
  }),
  mqttCertFile: optionalText({
    minLength: 1,
    shownDefault: 'none',
    description: 'PEM client certificate (mutual TLS)',
  }),
  mqttKeyFile: optionalText({ minLength: 1, shownDefault: 'none', description: "the client certificate's PEM key" }),
  mqttRejectUnauthorized: flag({
    default: true,
    description: 'refuse a broker whose certificate does not verify (`false` only for a self-signed test broker)',
  }),
  mqttTopicPrefix: identifier({
    default: 'facerec',
    description: 'first level of every topic, and of the Home Assistant ids (one per facerec server on a broker)',
  }),
  mqttDiscovery: flag({ default: true, description: 'publish Home Assistant MQTT discovery configs' }),
  mqttDiscoveryPrefix: identifier({ default: 'homeassistant', description: "Home Assistant's discovery prefix" }),
  mqttCrops: flag({
    default: false,
    description: 'also publish the best face crop of each appearance as a JPEG on `<prefix>/<camera>/crop`',
  }),
  frigateUrl: optionalUrl({
    schemes: ['http', 'https'],
    shownDefault: 'none (off)',
    description:
      "Frigate's HTTP API: its `person` events' snapshots are recognised (needs `MQTT_URL`; see Integrations)",
  }),
  frigateTopicPrefix: identifier({ default: 'frigate', description: "Frigate's MQTT topic prefix" }),
  mqttBufferSize: integer({
    default: 1000,
    min: 0,
    max: 100_000,
    description: 'messages kept while the broker is away (the oldest are dropped, and counted, beyond it)',
  }),
};

export const webhookSettings = {
  webhooks: fileOnlyList({
    item: WebhookSettings,
    limits: '`url`, optional `secret`, `cameras`, `people`, `unknown`, `events` (see Integrations)',
    description: 'URLs that receive person events as JSON POSTs',
  }),
  webhookUrl: optionalUrl({
    schemes: ['http', 'https'],
    shownDefault: 'none',
    description: "one more webhook, for every event (the environment's way to set one)",
  }),
  webhookSecret: optionalText({
    minLength: 8,
    shownDefault: 'none',
    description: "`WEBHOOK_URL`'s secret: the body's HMAC-SHA256 goes in `X-Facerec-Signature`",
  }),
  webhookRetries: integer({
    default: 3,
    min: 0,
    max: 10,
    description: 'retries of a failed delivery (after 1 s, 2 s, 4 s, …) before it is counted as failed',
  }),
  webhookTimeoutMs: integer({
    default: 5000,
    min: 100,
    max: 60_000,
    description: 'time allowed for each delivery attempt, in milliseconds',
  }),
  publicUrl: optionalUrl({
    schemes: ['http', 'https'],
    shownDefault: 'the listening address',
    description: "the server's address as Home Assistant and webhooks reach it, for the events' crop URLs",
  }),
};
