// Unknown faces: recent visits by people the facebank does not know (Unknown person_appeared events with a crop),
// newest first, live as cameras see them. "Enrol as…" on one adds its crop to a new or existing person.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { type Enrolment, enrolmentKey, eventKey, UnknownCard } from '../components/UnknownCard.tsx';
import { usePeople } from '../people.ts';
import { getSocket } from '../socket.ts';
import { useCameras } from '../useCameras.ts';
import type { Person, PersonEventMessage } from '../wire.ts';

const PAGE_SIZE = 60;
const PEOPLE_LIST_ID = 'unknown-people';

function isUnknownVisit(e: PersonEventMessage): boolean {
  return e.type === 'person_appeared' && e.name === 'Unknown' && e.cropUrl !== null;
}

/** Adds events to a list, once each, newest (highest id) first. */
function merge(list: readonly PersonEventMessage[], add: readonly PersonEventMessage[]): PersonEventMessage[] {
  const byId = new Map(list.map((e) => [e.id, e]));
  for (const e of add) if (isUnknownVisit(e)) byId.set(e.id, e);
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

/** The facebank's images that came from events, by event key. */
function enrolments(people: readonly Person[] | undefined): Map<string, Enrolment> {
  const found = new Map<string, Enrolment>();
  for (const person of people ?? []) {
    for (const image of person.images) {
      const key = enrolmentKey(image.file);
      if (key === undefined) continue;
      found.set(key, {
        person: person.name,
        status: image.status,
        ...(image.message ? { message: image.message } : {}),
      });
    }
  }
  return found;
}

async function fetchPage(before?: number): Promise<PersonEventMessage[]> {
  const query = new URLSearchParams({ name: 'Unknown', limit: String(PAGE_SIZE) });
  if (before !== undefined) query.set('before', String(before));
  return api<PersonEventMessage[]>(`/api/events?${query}`);
}

export function UnknownPage() {
  const { people, reload: reloadPeople } = usePeople();
  const { cameras } = useCameras();
  const [events, setEvents] = useState<PersonEventMessage[]>();
  const [error, setError] = useState<string>();
  /** The id to page back from (the oldest event fetched), or undefined when there is nothing older. */
  const [cursor, setCursor] = useState<number>();
  const [loadingOlder, setLoadingOlder] = useState(false);

  useEffect(() => {
    let cancelled = false;
    let first = true;
    // On (re)connection too: events that happened while the socket was down are fetched.
    const loadNewest = async () => {
      try {
        const page = await fetchPage();
        if (cancelled) return;
        if (first) setCursor(page.length === PAGE_SIZE ? page.at(-1)?.id : undefined);
        first = false;
        setEvents((list) => merge(list ?? [], page));
        setError(undefined);
      } catch (err) {
        if (!cancelled) setError(errorMessage(err));
      }
    };
    const socket = getSocket();
    const onEvent = (e: PersonEventMessage) => setEvents((list) => merge(list ?? [], [e]));
    const onConnect = () => void loadNewest();
    socket.on('events', onEvent);
    socket.on('connect', onConnect);
    void loadNewest();
    return () => {
      cancelled = true;
      socket.off('events', onEvent);
      socket.off('connect', onConnect);
    };
  }, []);

  const loadOlder = async () => {
    if (cursor === undefined) return;
    setLoadingOlder(true);
    try {
      const page = await fetchPage(cursor);
      setEvents((list) => merge(list ?? [], page));
      setCursor(page.length === PAGE_SIZE ? page.at(-1)?.id : undefined);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setLoadingOlder(false);
    }
  };

  const cameraNames = new Map(cameras?.map((c) => [c.id, c.name]));
  const enrolled = enrolments(people);
  const known = new Set(people?.map((p) => p.name));

  return (
    <section class="page unknown">
      <div class="page-head">
        <h1>Unknown faces</h1>
        <span class="muted">people the cameras saw and the facebank does not know, newest first</span>
      </div>
      {error && (
        <p class="error" role="alert">
          Could not load the events: {error}
        </p>
      )}
      {events === undefined && !error && <p class="muted">Loading…</p>}
      {events?.length === 0 && (
        <p class="panel muted">
          No unknown faces yet. When a camera sees someone the facebank does not know, their face appears here, and
          "Enrol as…" adds it to the facebank.
        </p>
      )}
      <datalist id={PEOPLE_LIST_ID}>
        {people?.map((p) => (
          <option key={p.name} value={p.name} />
        ))}
      </datalist>
      <ul class="unknown-gallery">
        {events?.map((event) => (
          <UnknownCard
            key={event.id}
            event={event}
            camera={cameraNames.get(event.cameraId) ?? event.cameraId}
            enrolled={enrolled.get(eventKey(event))}
            peopleListId={PEOPLE_LIST_ID}
            knownPeople={known}
            onEnrolled={reloadPeople}
          />
        ))}
      </ul>
      {cursor !== undefined && (
        <button type="button" class="unknown-older" onClick={loadOlder} disabled={loadingOlder}>
          {loadingOlder ? 'Loading…' : 'Show older'}
        </button>
      )}
    </section>
  );
}
