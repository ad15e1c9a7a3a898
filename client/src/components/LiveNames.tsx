// "Not this person" on a live name: each named track's current person_appeared event (the one the events page
// shows, with the track's best crop) is what a rejection learns from.
import { useEffect, useState } from 'preact/hooks';
import { api, errorMessage } from '../api.ts';
import { getSocket } from '../socket.ts';
import type { PersonEventMessage, TrackedFace } from '../wire.ts';
import { NotThisPerson } from './NotThisPerson.tsx';

/** Recent events fetched on opening: covers the tracks already on screen. */
const RECENT = 50;

type TrackEvents = ReadonlyMap<number, PersonEventMessage>;

function withEvent(map: TrackEvents, e: PersonEventMessage): TrackEvents {
  if (e.type !== 'person_appeared' || e.cropUrl === null) return map;
  const old = map.get(e.trackId);
  if (old !== undefined && old.id > e.id) return map;
  return new Map(map).set(e.trackId, e);
}

/** The newest person_appeared event of each track of this camera. */
function useTrackEvents(cameraId: string): TrackEvents {
  const [events, setEvents] = useState<TrackEvents>(new Map());
  useEffect(() => {
    let cancelled = false;
    setEvents(new Map());
    const onEvent = (e: PersonEventMessage) => {
      if (e.cameraId === cameraId) setEvents((map) => withEvent(map, e));
    };
    const socket = getSocket();
    socket.on('events', onEvent);
    api<PersonEventMessage[]>(`/api/events?camera=${encodeURIComponent(cameraId)}&limit=${RECENT}`)
      .then((list) => {
        if (!cancelled) setEvents((map) => list.reduce(withEvent, map));
      })
      .catch((err: unknown) => console.warn(`events of ${cameraId}: ${errorMessage(err)}`));
    return () => {
      cancelled = true;
      socket.off('events', onEvent);
    };
  }, [cameraId]);
  return events;
}

export function LiveNames({ cameraId, faces }: { cameraId: string; faces: readonly TrackedFace[] }) {
  const events = useTrackEvents(cameraId);
  const named = faces.flatMap((f) => {
    const event = events.get(f.trackId);
    return f.name !== 'Unknown' && event?.name === f.name ? [event] : [];
  });
  if (named.length === 0) return null;
  return (
    <ul class="live-named">
      {named.map((e) => (
        <li key={e.id} data-track={e.trackId} data-name={e.name}>
          <strong>{e.name}</strong> <NotThisPerson eventId={e.id} name={e.name} />
        </li>
      ))}
    </ul>
  );
}
