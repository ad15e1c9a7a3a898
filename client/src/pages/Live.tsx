// The live view: every camera as a tile (preview with boxes and names, health), or one camera large
// (#/live/<id>), where the motion overlay can be switched on. Previews come over the socket only for the cameras
// followed here.
import { useState } from 'preact/hooks';
import { HealthStats, LastError, StateBadge } from '../components/CameraHealth.tsx';
import { FaceNames } from '../components/FaceNames.tsx';
import { LiveNames } from '../components/LiveNames.tsx';
import { MotionToggle } from '../components/MotionToggle.tsx';
import { PreviewCanvas } from '../components/PreviewCanvas.tsx';
import { href } from '../router.ts';
import { useSubscription } from '../subscription.ts';
import { useCameras } from '../useCameras.ts';
import type { Camera, TrackedFace } from '../wire.ts';

function placeholder(camera: Camera): string {
  if (!camera.enabled) return 'disabled';
  return camera.health.state === 'live' ? 'waiting for pictures…' : `${camera.health.state}…`;
}

function Tile({ camera }: { camera: Camera }) {
  const [faces, setFaces] = useState<TrackedFace[]>([]);
  return (
    <article class="tile" data-camera-id={camera.id}>
      <a class="tile-view" href={href('live', camera.id)} title={`Open ${camera.name}`}>
        <PreviewCanvas cameraId={camera.id} placeholder={placeholder(camera)} onFaces={setFaces} />
      </a>
      <div class="tile-info">
        <div class="tile-head">
          <a class="tile-name" href={href('live', camera.id)}>
            {camera.name}
          </a>
          <StateBadge health={camera.health} enabled={camera.enabled} />
        </div>
        <FaceNames faces={faces} />
        <HealthStats health={camera.health} />
        <LastError health={camera.health} />
      </div>
    </article>
  );
}

function LargeView({ camera }: { camera: Camera }) {
  const [faces, setFaces] = useState<TrackedFace[]>([]);
  const [motion, setMotion] = useState(false);
  return (
    <article class="large" data-camera-id={camera.id}>
      <PreviewCanvas
        cameraId={camera.id}
        placeholder={placeholder(camera)}
        onFaces={setFaces}
        motion={motion}
        class="large-view"
      />
      <aside class="panel large-info">
        <div class="tile-head">
          <h2>{camera.name}</h2>
          <StateBadge health={camera.health} enabled={camera.enabled} />
        </div>
        <FaceNames faces={faces} />
        <LiveNames cameraId={camera.id} faces={faces} />
        <HealthStats health={camera.health} />
        <LastError health={camera.health} />
        <MotionToggle camera={camera} on={motion} onChange={setMotion} />
        <p class="muted small">
          {camera.kind} · {camera.url} · <a href={href('cameras', camera.id)}>masks and region</a>
        </p>
      </aside>
    </article>
  );
}

function Empty() {
  return (
    <div class="panel empty">
      <p>No cameras yet.</p>
      <p class="muted">
        Add an RTSP camera or a video file on the <a href={href('cameras')}>cameras page</a>, or show your own camera on
        the <a href={href('webcam')}>webcam page</a>.
      </p>
    </div>
  );
}

function Grid({ cameras }: { cameras: Camera[] }) {
  useSubscription(['*']);
  if (cameras.length === 0) return <Empty />;
  return (
    <div class="tiles">
      {cameras.map((camera) => (
        <Tile key={camera.id} camera={camera} />
      ))}
    </div>
  );
}

function Single({ cameraId, camera }: { cameraId: string; camera: Camera | undefined }) {
  useSubscription([cameraId]);
  if (!camera) return <p class="panel">No camera with id “{cameraId}”: it may have been removed.</p>;
  return <LargeView camera={camera} />;
}

export function LivePage({ cameraId }: { cameraId: string | undefined }) {
  const { cameras, error } = useCameras();
  return (
    <section class="page">
      <div class="page-head">
        {cameraId !== undefined ? (
          <a class="back" href={href('live')}>
            ← All cameras
          </a>
        ) : (
          <h1>Live</h1>
        )}
        {error && <p class="error">{error}</p>}
      </div>
      {cameras === undefined ? (
        !error && <p class="muted">Loading cameras…</p>
      ) : cameraId !== undefined ? (
        <Single cameraId={cameraId} camera={cameras.find((c) => c.id === cameraId)} />
      ) : (
        <Grid cameras={cameras} />
      )}
    </section>
  );
}
