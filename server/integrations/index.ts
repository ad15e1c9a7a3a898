// The integrations the server feeds with its person events: MQTT (with Home Assistant discovery) when MQTT_URL is
// set, and webhooks when any are configured. Started once the server listens (crop URLs need its address).
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { PersonEvent } from '../../streams/types.ts';
import type { Config } from '../config.ts';
import type { Recognizer } from '../recognizer.ts';
import type { IntegrationsHealth } from './health.ts';
import { MqttBridge } from './mqttBridge.ts';
import { eventPayload } from './payloads.ts';
import { WebhookSettings } from './settings.ts';
import type { IntegrationSources } from './sources.ts';
import { Webhooks } from './webhooks.ts';

export class Integrations {
  private mqtt: MqttBridge | undefined;
  private webhooks: Webhooks | undefined;
  private publicUrl = '';
  private readonly onEvent = (event: PersonEvent) => {
    const name = this.sources.cameras.list().find((c) => c.id === event.cameraId)?.name ?? event.cameraId;
    this.webhooks?.send(eventPayload(event, name, this.publicUrl));
  };

  constructor(
    private readonly config: Config,
    private readonly sources: IntegrationSources,
    private readonly recognize: Recognizer,
    private readonly logger: Logger,
  ) {}

  /** `url` is the address the server listens on, used for crop URLs unless PUBLIC_URL says otherwise. */
  start(url: string): void {
    const c = this.config;
    this.publicUrl = (c.publicUrl ?? url).replace(/\/+$/u, '');
    const hooks = [...c.webhooks];
    // WEBHOOK_URL is a hook with the defaults of the config file's ones.
    if (c.webhookUrl) hooks.push(WebhookSettings.parse({ url: c.webhookUrl, secret: c.webhookSecret }));
    if (hooks.length > 0) {
      this.webhooks = new Webhooks(hooks, {
        retries: c.webhookRetries,
        timeoutMs: c.webhookTimeoutMs,
        logger: this.logger,
      });
      this.sources.cameras.on('event', this.onEvent);
      this.logger.info({ component: 'webhooks', hooks: hooks.length }, `webhooks: ${hooks.length} configured`);
    }
    if (c.frigateUrl && !c.mqttUrl)
      this.logger.warn({ component: 'frigate' }, 'FRIGATE_URL is set but MQTT_URL is not: Frigate ingest is off');
    if (c.mqttUrl) {
      this.mqtt = new MqttBridge({
        url: c.mqttUrl,
        username: c.mqttUsername,
        password: c.mqttPassword,
        caFile: c.mqttCaFile,
        certFile: c.mqttCertFile,
        keyFile: c.mqttKeyFile,
        rejectUnauthorized: c.mqttRejectUnauthorized,
        clientId: `${c.mqttTopicPrefix}-${hostname()}-${process.pid}`,
        bufferSize: c.mqttBufferSize,
        names: { prefix: c.mqttTopicPrefix, discoveryPrefix: c.mqttDiscoveryPrefix },
        discovery: c.mqttDiscovery,
        crops: c.mqttCrops,
        publicUrl: this.publicUrl,
        sources: this.sources,
        frigate: c.frigateUrl
          ? { url: c.frigateUrl, topicPrefix: c.frigateTopicPrefix, recognize: this.recognize }
          : undefined,
        logger: this.logger,
      });
    }
  }

  health(): IntegrationsHealth {
    return {
      mqtt: this.mqtt ? this.mqtt.health() : { enabled: false },
      webhooks: this.webhooks?.health() ?? [],
      ...(this.mqtt?.frigateStats ? { frigate: { ...this.mqtt.frigateStats } } : {}),
    };
  }

  async close(): Promise<void> {
    this.sources.cameras.off('event', this.onEvent);
    this.webhooks?.close();
    await this.mqtt?.close();
  }
}
