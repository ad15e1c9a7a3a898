// The events timeline: who appeared and left where, newest first, with the track's best face crop. Stored events
// come from GET /api/events (older pages through `before`); new ones arrive live over the socket.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { ApiImage } from '../components/ApiImage.tsx';
import { NotThisPerson } from '../components/NotThisPerson.tsx';
import { href } from '../router.ts';
import { getSocket } from '../socket.ts';
import { useCameras } from '../useCameras.ts';
import type { PersonEventMessage } from '../wire.ts';

const PAGE_SIZE = 50;
/** Live events beyond this many are dropped from the end of the list ("load older" brings them back). */
const MAX_SHOWN = 500;

interface Filter {
  /** Camera id, or '' for every camera. */
  camera: string;
  /** Exact name ('Unknown' included), or '' for everyone. */
  name: string;
}

const matches = (e: PersonEventMessage, f: Filter) =>
  (f.camera === '' || e.cameraId === f.camera) && (f.name === '' || e.name === f.name);

function eventsPath(f: Filter, before?: number): string {
  const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (f.camera) q.set('camera', f.camera);
  if (f.name) q.set('name', f.name);
  if (before !== undefined) q.set('before', String(before));
  return `/api/events?${q}`;
}

/**
 * One list, each event once, newest first by time. Not by id: a person_left event is sent (and numbered) only
 * after the tracker's cooldown, but its time is when the person was last seen.
 */
function merge(a: readonly PersonEventMessage[], b: readonly PersonEventMessage[]): PersonEventMessage[] {
  const byId = new Map<number, PersonEventMessage>();
  for (const e of [...a, ...b]) byId.set(e.id, e);
  return [...byId.values()].sort((x, y) => y.at - x.at || y.id - x.id);
}

/** The cursor for the next older page: the last event listed (lists go by time, then id, like the server's). */
const oldestId = (list: readonly PersonEventMessage[]) => list.at(-1)?.id;

function when(at: number): string {
  const d = new Date(at);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

function useConnected(): boolean {
  const [connected, setConnected] = useState(() => getSocket().connected);
  useEffect(() => {
    const socket = getSocket();
    const on = () => setConnected(true);
    const off = () => setConnected(false);
    socket.on('connect', on);
    socket.on('disconnect', off);
    return () => {
      socket.off('connect', on);
      socket.off('disconnect', off);
    };
  }, []);
  return connected;
}

function EventItem({ event, camera }: { event: PersonEventMessage; camera: string | undefined }) {
  const appeared = event.type === 'person_appeared';
  return (
    <li class={`event ${appeared ? 'appeared' : 'left'}`} data-event-id={event.id} data-name={event.name}>
      {event.cropUrl ? (
        <ApiImage path={event.cropUrl} alt={`${event.name}, face`} class="crop" />
      ) : (
        <div class="crop none">no crop</div>
      )}
      <div class="event-text">
        <div>
          <strong class={event.name === 'Unknown' ? 'unknown' : undefined}>{event.name}</strong>{' '}
          <span class="verb">{appeared ? 'appeared' : 'left'}</span>
        </div>
        <div class="muted">
          at{' '}
          {camera !== undefined ? (
            <a class="plain" href={href('live', event.cameraId)}>
              {camera}
            </a>
          ) : (
            <span title={event.cameraId}>a removed camera</span>
          )}
        </div>
        <div class="muted small">
          <time dateTime={new Date(event.at).toISOString()} title={new Date(event.at).toLocaleString()}>
            {when(event.at)}
          </time>
          {event.name !== 'Unknown' && ` · score ${event.score.toFixed(2)}`}
        </div>
        {appeared && event.name !== 'Unknown' && event.cropUrl && (
          <NotThisPerson eventId={event.id} name={event.name} />
        )}
      </div>
    </li>
  );
}

export function EventsPage() {
  const { cameras } = useCameras();
  const [filter, setFilter] = useState<Filter>({ camera: '', name: '' });
  const [events, setEvents] = useState<PersonEventMessage[]>([]);
  const [older, setOlder] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string>();
  const [people, setPeople] = useState<string[]>([]);
  const connected = useConnected();

  // Only the newest request's answer is applied: a filter change or a reload makes earlier ones stale.
  const ticket = useRef(0);
  // The list as last shown, which live events and pages are merged into.
  const shown = useRef<PersonEventMessage[]>([]);
  const show = (list: PersonEventMessage[]) => {
    shown.current = list;
    setEvents(list);
  };

  /** Loads the page before `before` (the newest page without it); `full` says whether that page's length tells
   * if older events exist (not so for a gap-filling reload of the newest page after a reconnect). */
  const load = async (before: number | undefined, full: boolean) => {
    const mine = ++ticket.current;
    setLoading(true);
    try {
      const page = await api<PersonEventMessage[]>(eventsPath(filter, before));
      if (mine !== ticket.current) return;
      if (full || shown.current.length === 0) setOlder(page.length === PAGE_SIZE);
      show(merge(shown.current, page));
      setError(undefined);
    } catch (err) {
      if (mine === ticket.current) setError(errorMessage(err));
    } finally {
      if (mine === ticket.current) setLoading(false);
    }
  };

  // History for the filter, again after each reconnect (events may have been missed, or the key was missing),
  // and live events.
  useEffect(() => {
    show([]);
    setOlder(false);
    void load(undefined, true);
    const socket = getSocket();
    const onEvent = (e: PersonEventMessage) => {
      if (!matches(e, filter)) return;
      const next = merge([e], shown.current);
      if (next.length > MAX_SHOWN) setOlder(true);
      show(next.slice(0, MAX_SHOWN));
    };
    const onConnect = () => void load(undefined, false);
    socket.on('events', onEvent);
    socket.on('connect', onConnect);
    return () => {
      ticket.current++;
      socket.off('events', onEvent);
      socket.off('connect', onConnect);
    };
  }, [filter]);

  useEffect(() => {
    api<Array<{ name: string }>>('/api/people')
      .then((list) => setPeople(list.map((p) => p.name)))
      .catch((err: unknown) => console.warn(`people list: ${errorMessage(err)}`));
  }, []);

  const cameraName = new Map((cameras ?? []).map((c) => [c.id, c.name]));
  const names = [...new Set([...people, ...events.map((e) => e.name).filter((n) => n !== 'Unknown')])].sort();

  return (
    <section class="page">
      <div class="page-head">
        <h1>Events</h1>
        <span class={`badge ${connected ? 'live' : 'reconnecting'}`} title="new events appear as they happen">
          {connected ? 'live' : 'offline'}
        </span>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Camera
          <select
            name="camera"
            value={filter.camera}
            onChange={(e) => setFilter({ ...filter, camera: e.currentTarget.value })}
          >
            <option value="">every camera</option>
            {(cameras ?? []).map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Person
          <select
            name="name"
            value={filter.name}
            onChange={(e) => setFilter({ ...filter, name: e.currentTarget.value })}
          >
            <option value="">everyone</option>
            {names.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
            <option value="Unknown">Unknown</option>
          </select>
        </label>
      </form>
      {error && <p class="error">{error}</p>}
      {events.length === 0 && !loading && !error ? (
        <p class="panel muted">
          No events yet{filter.camera || filter.name ? ' for this filter' : ''}. People are listed here when a camera
          sees them arrive and leave.
        </p>
      ) : (
        <ol class="events">
          {events.map((e) => (
            <EventItem key={e.id} event={e} camera={cameraName.get(e.cameraId)} />
          ))}
        </ol>
      )}
      <div class="more">
        {loading ? (
          <span class="muted">Loading…</span>
        ) : (
          older && (
            <button type="button" onClick={() => void load(oldestId(events), true)}>
              Load older
            </button>
          )
        )}
      </div>
    </section>
  );
}
