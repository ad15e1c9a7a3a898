// What /api/health says of the integrations (the OpenAPI document is built from these schemas).
import { z } from 'zod';

export const MqttHealth = z
  .object({
    enabled: z.literal(true),
    url: z.string().meta({ description: 'the broker, credentials hidden' }),
    connected: z.boolean(),
    connectedSince: z.number().optional().meta({ description: 'epoch milliseconds' }),
    published: z.number().meta({ description: 'messages handed to the broker since the start' }),
    buffered: z.number().meta({ description: 'messages waiting for the broker to come back' }),
    dropped: z.number().meta({ description: 'messages dropped because the buffer was full (MQTT_BUFFER_SIZE)' }),
    reconnects: z.number(),
    lastError: z.string().optional(),
  })
  .meta({ id: 'MqttHealth' });
export type MqttHealth = z.infer<typeof MqttHealth>;

export const WebhookHealth = z
  .object({
    url: z.string().meta({ description: 'the hook, credentials hidden' }),
    delivered: z.number(),
    failures: z.number().meta({ description: 'events given up on after every retry' }),
    retries: z.number(),
    pending: z.number().meta({ description: 'events waiting to be delivered' }),
    dropped: z.number().meta({ description: 'events dropped because too many were waiting' }),
    lastStatus: z.number().optional().meta({ description: "the last attempt's HTTP status (absent: no answer)" }),
    lastError: z.string().optional(),
    lastAt: z.number().optional().meta({ description: 'epoch milliseconds of the last attempt' }),
  })
  .meta({ id: 'WebhookHealth' });
export type WebhookHealth = z.infer<typeof WebhookHealth>;

export const IntegrationsHealth = z
  .object({
    mqtt: z.union([MqttHealth, z.object({ enabled: z.literal(false) })]),
    webhooks: z.array(WebhookHealth),
    frigate: z
      .object({
        recognised: z.number().meta({ description: 'Frigate person snapshots recognised and published' }),
        failed: z.number().meta({ description: 'snapshots that could not be fetched or analysed' }),
      })
      .optional()
      .meta({ description: 'present when FRIGATE_URL is set' }),
  })
  .meta({ id: 'IntegrationsHealth', description: 'MQTT and webhooks (README: Integrations)' });
export type IntegrationsHealth = z.infer<typeof IntegrationsHealth>;
