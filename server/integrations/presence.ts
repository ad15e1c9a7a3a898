// Who is in view where, and where each person was last seen, kept from the cameras' person events (a visit is one
// track: person_appeared opens it, person_left closes it). The state MQTT publishes as retained topics.
import { UNKNOWN } from '../../facebank/matcher.ts';
import type { PersonEvent } from '../../streams/types.ts';

/** A camera's view now. `people` has each name once (`Unknown` included); `count` is the number of visits. */
export interface CameraView {
  people: string[];
  known: string[];
  count: number;
}

export interface Sighting {
  inView: boolean;
  /** Cameras that see the person now. */
  cameras: string[];
  lastCamera?: string;
  /** Epoch milliseconds of the last appearance or departure. */
  lastSeen?: number;
}

export class Presence {
  /** camera id → track id → name */
  private readonly visits = new Map<string, Map<number, string>>();
  private readonly last = new Map<string, { cameraId: string; at: number }>();

  /** Applies an event; returns the known person whose sighting changed, if any. */
  apply(event: Pick<PersonEvent, 'type' | 'cameraId' | 'trackId' | 'name' | 'at'>): string | undefined {
    let tracks = this.visits.get(event.cameraId);
    if (!tracks) {
      tracks = new Map();
      this.visits.set(event.cameraId, tracks);
    }
    if (event.type === 'person_appeared') tracks.set(event.trackId, event.name);
    else tracks.delete(event.trackId);
    if (event.name === UNKNOWN) return undefined;
    // A person_left carries the time the visit ended, which can be older than a sighting elsewhere since.
    this.remember(event.name, event.cameraId, event.at);
    return event.name;
  }

  /** Remembers a sighting (from an event, the events store, Frigate) unless a newer one is known. */
  remember(name: string, cameraId: string, at: number): void {
    const known = this.last.get(name);
    if (!known || known.at < at) this.last.set(name, { cameraId, at });
  }

  view(cameraId: string): CameraView {
    const names = [...(this.visits.get(cameraId)?.values() ?? [])];
    const people = [...new Set(names)].sort();
    return { people, known: people.filter((n) => n !== UNKNOWN), count: names.length };
  }

  sighting(name: string): Sighting {
    const cameras = [...this.visits]
      .filter(([, tracks]) => [...tracks.values()].includes(name))
      .map(([id]) => id)
      .sort();
    const last = this.last.get(name);
    return {
      inView: cameras.length > 0,
      cameras,
      ...(last ? { lastCamera: last.cameraId, lastSeen: last.at } : {}),
    };
  }

  /** Forgets a camera's visits (removed or stopped); returns the known people it saw. */
  clearCamera(cameraId: string): string[] {
    const names = this.view(cameraId).known;
    this.visits.delete(cameraId);
    return names;
  }

  forgetPerson(name: string): void {
    this.last.delete(name);
  }
}
