// One camera's page (#/cameras/<id>): its live picture with the masks and the detection region drawn over it, to
// edit and save, and the motion overlay to tune them by; its motion settings below.
import { useState } from 'preact/hooks';
import { HealthStats, LastError, StateBadge } from '../components/CameraHealth.tsx';
import { MotionToggle } from '../components/MotionToggle.tsx';
import { PreviewCanvas } from '../components/PreviewCanvas.tsx';
import { ShapeOverlay, useShapeEditor } from '../components/ShapeEditor.tsx';
import { href } from '../router.ts';
import { useSubscription } from '../subscription.ts';
import { useCameras } from '../useCameras.ts';
import type { Camera } from '../wire.ts';

function CameraSettings({ camera, onSaved }: { camera: Camera; onSaved: () => void }) {
  const [size, setSize] = useState<{ width: number; height: number }>();
  const [motion, setMotion] = useState(false);
  const { state, panel } = useShapeEditor(camera, onSaved);
  return (
    <article class="large camera-page" data-camera-id={camera.id}>
      <PreviewCanvas
        cameraId={camera.id}
        placeholder={camera.enabled ? 'waiting for pictures…' : 'disabled: enable it to draw on its picture'}
        motion={motion}
        onPictureSize={setSize}
        class="large-view"
      >
        {size && <ShapeOverlay draft={state.draft} size={size} mode={state.mode} onDrawn={state.add} />}
      </PreviewCanvas>
      <aside class="large-info">
        <div class="panel large-info">
          <div class="tile-head">
            <h2>{camera.name}</h2>
            <StateBadge health={camera.health} enabled={camera.enabled} />
          </div>
          <MotionToggle camera={camera} on={motion} onChange={setMotion} />
          <HealthStats health={camera.health} />
          <LastError health={camera.health} />
          <p class="muted small">
            motion gating {camera.motion ? 'on' : 'off'} · threshold {camera.motionThreshold} · min area{' '}
            {camera.motionMinArea} · decoded at{' '}
            {camera.detectWidth > 0 ? `${camera.detectWidth} px wide` : 'source size'}
          </p>
        </div>
        {panel}
      </aside>
    </article>
  );
}

export function CameraPage({ cameraId }: { cameraId: string }) {
  const { cameras, error, reload } = useCameras();
  useSubscription([cameraId]);
  const camera = cameras?.find((c) => c.id === cameraId);
  return (
    <section class="page">
      <div class="page-head">
        <a class="back" href={href('cameras')}>
          ← Cameras
        </a>
        {error && <p class="error">{error}</p>}
      </div>
      {cameras === undefined ? (
        !error && <p class="muted">Loading cameras…</p>
      ) : camera ? (
        <CameraSettings camera={camera} onSaved={() => void reload()} />
      ) : (
        <p class="panel">No camera with id “{cameraId}”: it may have been removed.</p>
      )}
    </section>
  );
}
