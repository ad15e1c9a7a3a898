// "Not <name>" on a face the server named: stores a negative example from the event's crop, so that face is not
// given that name again, and offers to undo it right there.
import { useState } from 'preact/hooks';
import { errorMessage } from '../api.ts';
import { rejectEvent, undoNegative } from '../feedback.ts';
import type { NegativeExample } from '../wire.ts';

interface Props {
  eventId: number;
  name: string;
}

export function NotThisPerson({ eventId, name }: Props) {
  const [negative, setNegative] = useState<NegativeExample>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const reject = () =>
    run(async () => {
      setNegative(await rejectEvent(eventId));
    });
  const undo = () =>
    run(async () => {
      if (negative) await undoNegative(negative);
      setNegative(undefined);
    });

  return (
    <span class="not-this-person" data-rejected={negative ? String(negative.id) : undefined}>
      {negative ? (
        <>
          <span class="muted small">not {name}: this face will not be named so again</span>{' '}
          <button type="button" class="link" onClick={() => void undo()} disabled={busy}>
            Undo
          </button>
        </>
      ) : (
        <button
          type="button"
          class="small-button"
          onClick={() => void reject()}
          disabled={busy}
          title={`This face is not ${name}: do not name it so again`}
        >
          Not {name}
        </button>
      )}
      {error && (
        <span class="error small" role="alert">
          {' '}
          {error}
        </span>
      )}
    </span>
  );
}
