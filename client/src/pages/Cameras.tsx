// The cameras page: every camera with its health and last error; add an RTSP camera or a video file, enable or
// disable one, remove one. Cameras from the config file (and live webcams) are shown read-only. Below them, the
// integrations' state (MQTT, webhooks, Frigate). Each camera links to its own page (Camera.tsx: masks, region).
// In cluster mode, each camera shows the node that analyses it, and the nodes are listed.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { HealthStats, LastError, StateBadge } from '../components/CameraHealth.tsx';
import { CameraOwner, ClusterPanel } from '../components/ClusterPanel.tsx';
import { IntegrationsPanel } from '../components/IntegrationsPanel.tsx';
import { href } from '../router.ts';
import { useCameras } from '../useCameras.ts';
import { useLatest } from '../useLatest.ts';
import type { Camera, CameraLease, Health } from '../wire.ts';

/** /api/health (integrations, cluster) is read again this often. */
const HEALTH_REFRESH_MS = 5000;

const ORIGIN: Record<Camera['origin'], string> = {
  api: 'added here',
  config: 'config file',
  session: 'browser webcam',
};

function AddCamera({ onAdded }: { onAdded: () => void }) {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [maxFps, setMaxFps] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api('/api/cameras', {
        method: 'POST',
        body: { name: name.trim(), url: url.trim(), ...(maxFps ? { maxDetectFps: Number(maxFps) } : {}) },
      });
      setName('');
      setUrl('');
      setMaxFps('');
      onAdded();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel add-camera" onSubmit={submit}>
      <h2>Add a camera</h2>
      <div class="fields">
        <label class="field-name">
          Name
          <input name="name" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field-url">
          RTSP URL or video file
          <input
            name="url"
            required
            placeholder="rtsp://user:password@192.0.2.10/stream1"
            autoComplete="off"
            spellcheck={false}
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </label>
        <label class="field-fps">
          Max detect fps
          <input
            name="maxDetectFps"
            type="number"
            min="0.1"
            step="0.1"
            placeholder="default"
            value={maxFps}
            onInput={(e) => setMaxFps(e.currentTarget.value)}
          />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add'}
        </button>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function CameraRow({
  camera,
  lease,
  onChanged,
}: {
  camera: Camera;
  lease: CameraLease | undefined;
  onChanged: () => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const act = async (request: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await request();
      onChanged();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };
  const path = `/api/cameras/${encodeURIComponent(camera.id)}`;

  return (
    <li class="panel camera-row" data-camera-id={camera.id} data-camera-name={camera.name}>
      <div class="camera-main">
        <div class="tile-head start">
          <a class="tile-name" href={href('live', camera.id)}>
            {camera.name}
          </a>
          <StateBadge health={camera.health} enabled={camera.enabled} />
        </div>
        <p class="camera-url" title={camera.url}>
          {camera.url}
        </p>
        <p class="muted small">
          {camera.kind} · {ORIGIN[camera.origin]} · up to {camera.maxDetectFps} detections/s ·{' '}
          <a class="camera-settings" href={href('cameras', camera.id)}>
            masks and region
          </a>
        </p>
        {lease && <CameraOwner lease={lease} />}
      </div>
      <div class="camera-health">
        <HealthStats health={camera.health} />
        <LastError health={camera.health} />
      </div>
      <div class="camera-actions">
        {camera.readOnly ? (
          <span class="muted small" title="change it where it is declared">
            read-only ({ORIGIN[camera.origin]})
          </span>
        ) : confirming ? (
          <>
            <span class="small">Remove “{camera.name}”?</span>
            <button
              type="button"
              class="danger"
              disabled={busy}
              onClick={() => act(() => api(path, { method: 'DELETE' }))}
            >
              Yes, remove
            </button>
            <button type="button" disabled={busy} onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </>
        ) : (
          <>
            <button
              type="button"
              disabled={busy}
              onClick={() => act(() => api(path, { method: 'PATCH', body: { enabled: !camera.enabled } }))}
            >
              {camera.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => setConfirming(true)}>
              Remove
            </button>
          </>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </div>
    </li>
  );
}

export function CamerasPage() {
  const { cameras, error, reload } = useCameras();
  const refresh = () => void reload();
  const health = useLatest<Health>('/api/health');
  const reloadHealth = health.reload;
  useEffect(() => {
    void reloadHealth();
    const timer = setInterval(() => void reloadHealth(), HEALTH_REFRESH_MS);
    return () => clearInterval(timer);
  }, [reloadHealth]);
  const cluster = health.data?.cluster.enabled ? health.data.cluster : undefined;
  const leases = new Map(cluster?.cameras.map((l) => [l.id, l]));
  return (
    <section class="page">
      <h1>Cameras</h1>
      <AddCamera onAdded={refresh} />
      {error && <p class="error">{error}</p>}
      {cameras === undefined ? (
        !error && <p class="muted">Loading cameras…</p>
      ) : cameras.length === 0 ? (
        <p class="panel muted">No cameras yet: add one above.</p>
      ) : (
        <ul class="camera-list">
          {cameras.map((camera) => (
            <CameraRow key={camera.id} camera={camera} lease={leases.get(camera.id)} onChanged={refresh} />
          ))}
        </ul>
      )}
      {cluster && <ClusterPanel cluster={cluster} />}
      <IntegrationsPanel integrations={health.data?.integrations} />
    </section>
  );
}
