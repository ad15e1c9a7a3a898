// Unknown faces: recent visits by people the facebank does not know (Unknown person_appeared events with a crop),
// grouped by the server into one card per person (GET /api/unknowns), refreshed as cameras see new visits.
// "Enrol as…" on a card adds its best crops to a new or existing person.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { type Enrolment, enrolmentKey, eventKey, UnknownCard } from '../components/UnknownCard.tsx';
import { usePeople } from '../people.ts';
import { getSocket } from '../socket.ts';
import { useCameras } from '../useCameras.ts';
import type { Person, PersonEventMessage, UnknownCluster } from '../wire.ts';

const PEOPLE_LIST_ID = 'unknown-people';
/** The gallery groups this many of the newest visits (GET /api/unknowns?limit). */
const VISITS = 300;
/** A burst of new visits is fetched once, this long after the first of them. */
const REFRESH_DELAY_MS = 1000;

function isUnknownVisit(e: PersonEventMessage): boolean {
  return e.type === 'person_appeared' && e.name === 'Unknown' && e.cropUrl !== null;
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

export function UnknownPage() {
  const { people, reload: reloadPeople } = usePeople();
  const { cameras } = useCameras();
  const [clusters, setClusters] = useState<UnknownCluster[]>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    let cancelled = false;
    let ticket = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Only the newest request's answer is applied; on (re)connection too, for visits missed while down.
    const load = async () => {
      const mine = ++ticket;
      try {
        const list = await api<UnknownCluster[]>(`/api/unknowns?limit=${VISITS}`);
        if (cancelled || mine !== ticket) return;
        setClusters(list);
        setError(undefined);
      } catch (err) {
        if (!cancelled && mine === ticket) setError(errorMessage(err));
      }
    };
    const socket = getSocket();
    const onEvent = (e: PersonEventMessage) => {
      if (!isUnknownVisit(e) || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void load();
      }, REFRESH_DELAY_MS);
    };
    const onConnect = () => void load();
    socket.on('events', onEvent);
    socket.on('connect', onConnect);
    void load();
    return () => {
      cancelled = true;
      clearTimeout(timer);
      socket.off('events', onEvent);
      socket.off('connect', onConnect);
    };
  }, []);

  const cameraNames = new Map(cameras?.map((c) => [c.id, c.name]));
  const enrolled = enrolments(people);
  const known = new Set(people?.map((p) => p.name));
  const enrolmentOf = (k: UnknownCluster) =>
    k.events.map((e) => enrolled.get(eventKey(e))).find((x) => x !== undefined);

  return (
    <section class="page unknown">
      <div class="page-head">
        <h1>Unknown faces</h1>
        <span class="muted">
          people the cameras saw and the facebank does not know, one card per person, most recently seen first
        </span>
      </div>
      {error && (
        <p class="error" role="alert">
          Could not load the events: {error}
        </p>
      )}
      {clusters === undefined && !error && <p class="muted">Loading…</p>}
      {clusters?.length === 0 && (
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
        {clusters?.map((cluster) => (
          <UnknownCard
            key={cluster.id}
            cluster={cluster}
            cameraNames={cameraNames}
            enrolled={enrolmentOf(cluster)}
            peopleListId={PEOPLE_LIST_ID}
            knownPeople={known}
            onEnrolled={reloadPeople}
          />
        ))}
      </ul>
    </section>
  );
}
