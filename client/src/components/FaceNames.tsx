// The names of the faces in a picture, as text (the canvas draws them too; data-names lets the browser tests read
// them from the page rather than from pixels).
import type { TrackedFace } from '../wire.ts';

export function FaceNames({ faces }: { faces: readonly TrackedFace[] }) {
  const names = [...new Set(faces.map((f) => f.name))].sort();
  return (
    <ul class="face-names" data-names={names.join(',')}>
      {names.length === 0 ? (
        <li class="muted">nobody</li>
      ) : (
        names.map((name) => (
          <li key={name} class={name === 'Unknown' ? 'unknown' : 'known'}>
            {name}
          </li>
        ))
      )}
    </ul>
  );
}
