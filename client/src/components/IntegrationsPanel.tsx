// The integrations' state, on the cameras page: whether MQTT is connected (and what waits for the broker), each
// webhook's last answer and failures, Frigate's count. The page reads /api/health every few seconds.
import type { IntegrationsHealth } from '../wire.ts';

function Mqtt({ mqtt }: { mqtt: IntegrationsHealth['mqtt'] }) {
  if (!mqtt.enabled) return <span class="muted">off (set MQTT_URL)</span>;
  const waiting = [
    `${mqtt.published} published`,
    ...(mqtt.buffered > 0 ? [`${mqtt.buffered} waiting for the broker`] : []),
    ...(mqtt.dropped > 0 ? [`${mqtt.dropped} dropped`] : []),
  ];
  return (
    <>
      <span class={`badge ${mqtt.connected ? 'live' : 'reconnecting'}`}>
        {mqtt.connected ? 'connected' : 'disconnected'}
      </span>{' '}
      {mqtt.url} · {waiting.join(', ')}
      {!mqtt.connected && mqtt.lastError && <span class="error"> {mqtt.lastError}</span>}
    </>
  );
}

export function IntegrationsPanel({ integrations }: { integrations: IntegrationsHealth | undefined }) {
  if (!integrations) return null;
  const { mqtt, webhooks, frigate } = integrations;
  return (
    <section class="panel integrations">
      <h2>Integrations</h2>
      <p class="integration-mqtt">
        MQTT: <Mqtt mqtt={mqtt} />
      </p>
      {frigate && (
        <p class="integration-frigate">
          Frigate: {frigate.recognised} snapshots recognised{frigate.failed > 0 && `, ${frigate.failed} failed`}
        </p>
      )}
      {webhooks.length === 0 ? (
        <p class="muted">No webhooks (see the README's Integrations).</p>
      ) : (
        <ul class="webhooks">
          {webhooks.map((h) => (
            <li key={h.url} class="webhook" data-url={h.url}>
              <span class={`badge ${h.failures > 0 && h.lastError ? 'error' : 'live'}`}>
                {h.lastStatus ?? (h.lastError ? 'no answer' : 'idle')}
              </span>{' '}
              {h.url} · {h.delivered} delivered, {h.failures} failed
              {h.pending > 0 && `, ${h.pending} pending`}
              {h.lastError && <span class="muted"> ({h.lastError})</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
