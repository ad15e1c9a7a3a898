// Under a person on the facebank page: the faces marked "not <name>" (negative examples), each with its undo.
import { useEffect, useState } from 'preact/hooks';
import { errorMessage } from '../api.ts';
import { negativesOf, undoNegative } from '../feedback.ts';
import type { NegativeExample } from '../wire.ts';
import { ApiImage } from './ApiImage.tsx';

export function PersonNegatives({ name }: { name: string }) {
  const [list, setList] = useState<NegativeExample[]>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    let cancelled = false;
    negativesOf(name)
      .then((l) => {
        if (!cancelled) setList(l);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(errorMessage(err));
      });
    return () => {
      cancelled = true;
    };
  }, [name]);

  const undo = async (n: NegativeExample) => {
    try {
      await undoNegative(n);
      setList((l) => l.filter((x) => x.id !== n.id));
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  if (list.length === 0 && !error) return null;
  return (
    <div class="person-negatives">
      <span class="muted small">Not {name}: these faces are not given this name</span>
      <ul class="person-images">
        {list.map((n) => (
          <li key={n.id} class="person-image" data-negative={n.id}>
            {n.cropUrl ? (
              <ApiImage class="person-thumb" path={n.cropUrl} alt={`not ${name}`} />
            ) : (
              <div class="person-thumb crop none">{n.eventId === null ? 'uploaded' : 'crop gone'}</div>
            )}
            <button type="button" class="link" onClick={() => void undo(n)}>
              Undo
            </button>
          </li>
        ))}
      </ul>
      {error && <span class="error small">{error}</span>}
    </div>
  );
}
