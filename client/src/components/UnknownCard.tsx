// One unrecognised visit: its best face crop, camera and time, and "Enrol as…", which adds the crop to a new or
// existing person in one step. The crop (the face with a 30% margin, up to 320 px wide) is what the facebank
// analyses best from a camera: it is sent as is, named after the event so the page knows it was enrolled.
import { useState } from 'preact/hooks';
import { apiBlob, errorMessage } from '../api.ts';
import { addImage } from '../people.ts';
import type { PersonEventMessage } from '../wire.ts';
import { ApiImage } from './ApiImage.tsx';
import { type ShownStatus, StatusBadge, statusHint } from './PersonStatus.tsx';

/** The facebank file name of an event's crop: event id and time, unique even if the events database is reset. */
export function enrolmentFileName(event: PersonEventMessage): string {
  return `event-${event.id}-${event.at}.jpg`;
}

/** The key `enrolmentFileName` gave a facebank file (a `-2` suffix if the name was taken), or undefined. */
export function enrolmentKey(file: string): string | undefined {
  return file.match(/^event-(\d+-\d+)(?:-\d+)?\.jpe?g$/)?.[1];
}

export function eventKey(event: PersonEventMessage): string {
  return `${event.id}-${event.at}`;
}

export interface Enrolment {
  person: string;
  status: ShownStatus;
  message?: string;
}

function when(at: number): string {
  const date = new Date(at);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString()
    : date.toLocaleString(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

interface Props {
  event: PersonEventMessage;
  camera: string;
  /** What the facebank says of this crop, when it holds it. */
  enrolled: Enrolment | undefined;
  /** For the name field's suggestions (one <datalist> on the page). */
  peopleListId: string;
  knownPeople: ReadonlySet<string>;
  onEnrolled: () => Promise<void>;
}

export function UnknownCard({ event, camera, enrolled, peopleListId, knownPeople, onEnrolled }: Props) {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // Shown at once; the facebank's own answer (`enrolled`) replaces it after the next fetch.
  const [done, setDone] = useState<Enrolment>();
  const result = enrolled ?? done;
  const wanted = name.trim();
  const cropUrl = event.cropUrl;

  const enrol = async () => {
    if (!wanted || !cropUrl) return;
    setBusy(true);
    setError(undefined);
    try {
      const crop = await apiBlob(cropUrl);
      const image = await addImage(wanted, crop, enrolmentFileName(event));
      setDone({ person: image.person, status: image.status, ...(image.message ? { message: image.message } : {}) });
      setOpen(false);
      await onEnrolled();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class={`panel unknown-card${result ? ' enrolled' : ''}`} data-event={event.id}>
      {cropUrl && <ApiImage class="unknown-crop" path={cropUrl} alt={`Unknown face at ${camera}`} />}
      <div class="unknown-meta">
        <strong class="unknown-camera">{camera}</strong>
        <time class="muted" dateTime={new Date(event.at).toISOString()}>
          {when(event.at)}
        </time>
      </div>
      {result ? (
        <p class="unknown-enrolled" title={statusHint(result.status, result.message)}>
          Enrolled as <a href="#/facebank">{result.person}</a> <StatusBadge status={result.status} />
        </p>
      ) : open ? (
        <form
          class="unknown-enrol"
          onSubmit={(e) => {
            e.preventDefault();
            void enrol();
          }}
        >
          <input
            name="person"
            list={peopleListId}
            placeholder="Name"
            aria-label="Enrol as"
            autoComplete="off"
            // biome-ignore lint/a11y/noAutofocus: the field opens on the user's click, to be typed into
            autoFocus
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <div class="unknown-enrol-actions">
            <button type="submit" class="primary" disabled={busy || !wanted}>
              {busy ? 'Enrolling…' : 'Enrol'}
            </button>
            <button type="button" onClick={() => setOpen(false)} disabled={busy}>
              Cancel
            </button>
          </div>
          {wanted && (
            <span class="muted unknown-enrol-hint">
              {knownPeople.has(wanted) ? `adds a photo to ${wanted}` : `creates ${wanted}`}
            </span>
          )}
        </form>
      ) : (
        <button type="button" class="unknown-open" onClick={() => setOpen(true)} disabled={!cropUrl}>
          Enrol as…
        </button>
      )}
      {error && (
        <p class="error unknown-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}
