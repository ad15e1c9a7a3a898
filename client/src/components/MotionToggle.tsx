// The motion overlay's switch: while on, the camera's previews come with the moving regions the motion gate found
// (masks and the detection region left out), drawn over the picture, so that masks can be tuned by eye.
import { useSubscription } from '../subscription.ts';
import type { Camera } from '../wire.ts';

export function MotionToggle({
  camera,
  on,
  onChange,
}: {
  camera: Camera;
  on: boolean;
  onChange: (on: boolean) => void;
}) {
  useSubscription(on ? [camera.id] : [], { motion: true });
  return (
    <label class="motion-toggle">
      <input type="checkbox" name="motionOverlay" checked={on} onChange={(e) => onChange(e.currentTarget.checked)} />
      Show motion
      {!camera.motion && <span class="muted small"> (motion gating is off for this camera: nothing to show)</span>}
    </label>
  );
}
