// Who is in view where, from person events: visits per track, names once per camera, and a last sighting that
// only moves forward in time (a person_left carries the end of its visit, which may be older than a later sighting).
import { describe, expect, it } from 'vitest';
import { Presence } from './presence.ts';

const event = (
  type: 'person_appeared' | 'person_left',
  cameraId: string,
  trackId: number,
  name: string,
  at: number,
) => ({
  type,
  cameraId,
  trackId,
  name,
  at,
});

describe('presence', () => {
  it('follows visits per camera, Unknown included, and where each known person was last seen', () => {
    const p = new Presence();
    expect(p.apply(event('person_appeared', 'door', 1, 'penny', 1000))).toBe('penny');
    expect(p.apply(event('person_appeared', 'door', 2, 'Unknown', 1100))).toBeUndefined();
    p.apply(event('person_appeared', 'door', 3, 'penny', 1200)); // a second track of her: one name, two visits
    p.apply(event('person_appeared', 'yard', 4, 'penny', 1300));
    expect(p.view('door')).toEqual({ people: ['Unknown', 'penny'], known: ['penny'], count: 3 });
    expect(p.sighting('penny')).toEqual({
      inView: true,
      cameras: ['door', 'yard'],
      lastCamera: 'yard',
      lastSeen: 1300,
    });

    p.apply(event('person_left', 'door', 1, 'penny', 1150));
    p.apply(event('person_left', 'door', 3, 'penny', 1250));
    // Her door visits ended before she was seen in the yard: the yard stays her last sighting.
    expect(p.sighting('penny')).toEqual({ inView: true, cameras: ['yard'], lastCamera: 'yard', lastSeen: 1300 });
    p.remember('penny', 'driveway', 1250); // older: ignored
    expect(p.sighting('penny').lastCamera).toBe('yard');
    p.remember('penny', 'driveway', 2000);
    expect(p.sighting('penny')).toMatchObject({ lastCamera: 'driveway', lastSeen: 2000 });

    expect(p.clearCamera('yard')).toEqual(['penny']);
    expect(p.view('yard')).toEqual({ people: [], known: [], count: 0 });
    expect(p.sighting('penny')).toEqual({ inView: false, cameras: [], lastCamera: 'driveway', lastSeen: 2000 });
    p.forgetPerson('penny');
    expect(p.sighting('penny')).toEqual({ inView: false, cameras: [] });
  });
});
