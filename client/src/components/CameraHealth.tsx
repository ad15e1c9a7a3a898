// A camera's health as the live view and the cameras page show it: state badge, rates, lag and the last error.
import type { CameraHealth } from '../wire.ts';

export function StateBadge({ health, enabled = true }: { health: CameraHealth; enabled?: boolean }) {
  const state = enabled ? health.state : 'stopped';
  return <span class={`badge ${state}`}>{enabled ? state : 'disabled'}</span>;
}

const fps = (n: number) => `${n.toFixed(1)} fps`;
const ms = (n: number) => `${Math.round(n)}`;
/** Lag is measured over processed frames: none yet shows as a dash rather than 0 ms. */
const lag = (h: CameraHealth) => (h.lagMs.p95 > 0 ? `${ms(h.lagMs.p50)}/${ms(h.lagMs.p95)} ms` : '–');

export function HealthStats({ health }: { health: CameraHealth }) {
  return (
    <dl class="stats">
      <div>
        <dt>input</dt>
        <dd>{fps(health.inputFps)}</dd>
      </div>
      <div>
        <dt>analysed</dt>
        <dd>{fps(health.processedFps)}</dd>
      </div>
      <div>
        <dt>lag p50/p95</dt>
        <dd>{lag(health)}</dd>
      </div>
      {(health.eventsDropped ?? 0) > 0 && (
        <div title="person events the server could not store: its storage is full or read-only">
          <dt>events not stored</dt>
          <dd>{health.eventsDropped}</dd>
        </div>
      )}
      {health.reconnects > 0 && (
        <div>
          <dt>reconnects</dt>
          <dd>{health.reconnects}</dd>
        </div>
      )}
    </dl>
  );
}

export function LastError({ health }: { health: CameraHealth }) {
  if (!health.lastError) return null;
  return (
    <p class="last-error" title={health.lastError}>
      <span class="muted">last error:</span> {health.lastError}
    </p>
  );
}
