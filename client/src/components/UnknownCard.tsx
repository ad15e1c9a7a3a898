// One stranger's visits (a cluster from GET /api/unknowns): the most typical face crop, how often and when they
// came, the other crops on demand, and "Enrol as…", which adds the best few crops to a new or existing person in
// one step. The crop (the face with a 30% margin, up to 320 px wide) is what the facebank
// analyses best from a camera: it is sent as is, named after the event so the page knows it was enrolled.
import { useState } from 'preact/hooks';
import { apiBlob, errorMessage } from '../api.ts';
import { addImage } from '../people.ts';
import type { PersonEventMessage, UnknownCluster } from '../wire.ts';
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

/** "Enrol as…" on a card adds this many of its visits' crops, most typical first: enough templates to know the
 * person from several angles without filling their folder with near-copies. */
export const ENROL_CROPS = 5;

function range(first: number, last: number): string {
  return first === last ? when(first) : `${when(first)} – ${when(last)}`;
}

interface Props {
  cluster: UnknownCluster;
  /** Camera id → name. */
  cameraNames: ReadonlyMap<string, string>;
  /** What the facebank says of the first of this card's crops it holds, when it holds one. */
  enrolled: Enrolment | undefined;
  /** For the name field's suggestions (one <datalist> on the page). */
  peopleListId: string;
  knownPeople: ReadonlySet<string>;
  onEnrolled: () => Promise<void>;
}

export function UnknownCard({ cluster, cameraNames, enrolled, peopleListId, knownPeople, onEnrolled }: Props) {
  const [open, setOpen] = useState(false);
  const [expanded, setExpanded] = useState(false);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  // Shown at once; the facebank's own answer (`enrolled`) replaces it after the next fetch.
  const [done, setDone] = useState<Enrolment>();
  const result = enrolled ?? done;
  const wanted = name.trim();
  const best = cluster.events[0]!;
  const cameras = [...new Set(cluster.events.map((e) => cameraNames.get(e.cameraId) ?? e.cameraId))];
  const withCrops = cluster.events.filter((e) => e.cropUrl !== null);

  /** Adds the most typical crops, one request each (a rejected one does not stop the others). */
  const enrol = async () => {
    if (!wanted || withCrops.length === 0) return;
    setBusy(true);
    setError(undefined);
    try {
      let first: Enrolment | undefined;
      const failures: string[] = [];
      for (const event of withCrops.slice(0, ENROL_CROPS)) {
        try {
          const image = await addImage(wanted, await apiBlob(event.cropUrl!), enrolmentFileName(event));
          first ??= {
            person: image.person,
            status: image.status,
            ...(image.message ? { message: image.message } : {}),
          };
        } catch (err) {
          failures.push(errorMessage(err));
        }
      }
      if (first) {
        setDone(first);
        setOpen(false);
        await onEnrolled();
      }
      if (failures.length > 0) setError(failures.join('; '));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class={`panel unknown-card${result ? ' enrolled' : ''}`} data-cluster={cluster.id} data-count={cluster.count}>
      {best.cropUrl && <ApiImage class="unknown-crop" path={best.cropUrl} alt={`Unknown face at ${cameras[0]}`} />}
      <div class="unknown-meta">
        <strong class="unknown-camera">{cameras.join(', ')}</strong>
        <span>
          <span class="unknown-count">{cluster.count === 1 ? '1 visit' : `${cluster.count} visits`}</span>
          {' · '}
          <time class="muted" dateTime={new Date(cluster.last).toISOString()}>
            {range(cluster.first, cluster.last)}
          </time>
        </span>
      </div>
      {cluster.count > 1 && (
        <button type="button" class="link unknown-expand" onClick={() => setExpanded(!expanded)}>
          {expanded ? 'Hide the other visits' : `Show all ${cluster.count}`}
        </button>
      )}
      {expanded && (
        <ul class="unknown-others">
          {cluster.events.slice(1).map((e) =>
            e.cropUrl ? (
              <li key={e.id} title={`${cameraNames.get(e.cameraId) ?? e.cameraId}, ${when(e.at)}`}>
                <ApiImage class="unknown-crop" path={e.cropUrl} alt="another visit" />
              </li>
            ) : null,
          )}
        </ul>
      )}
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
              {knownPeople.has(wanted) ? `adds ${photos(withCrops.length)} to ${wanted}` : `creates ${wanted}`}
            </span>
          )}
        </form>
      ) : (
        <button type="button" class="unknown-open" onClick={() => setOpen(true)} disabled={withCrops.length === 0}>
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

function photos(crops: number): string {
  const n = Math.min(crops, ENROL_CROPS);
  return n === 1 ? 'a photo' : `${n} photos`;
}
