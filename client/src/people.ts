// The facebank over HTTP, for the facebank and unknown-faces pages: paths, one-image uploads, and the people list
// kept fresh (after each change the page makes, when the tab comes back, and every few seconds while it is
// shown, since the folder can also change on disk).
import { useEffect } from 'preact/hooks';
import { api } from './api.ts';
import { useLatest } from './useLatest.ts';
import type { FacebankImage, Person } from './wire.ts';

/** Files the facebank reads (facebank/names.ts); the browser's file picker offers only these. */
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

export function personPath(name: string): string {
  return `/api/people/${encodeURIComponent(name)}`;
}

export function imagePath(person: string, file: string): string {
  return `${personPath(person)}/images/${encodeURIComponent(file)}`;
}

/**
 * Adds one image to a person (created if missing) and answers it with its status. One image per request, so
 * that a rejected image (several faces, unreadable) does not stop the others and each gets its own answer.
 */
export async function addImage(person: string, image: Blob, filename: string): Promise<FacebankImage> {
  const form = new FormData();
  form.append('file', image, filename);
  const added = await api<FacebankImage[]>(`${personPath(person)}/images`, { method: 'POST', body: form });
  const first = added[0];
  if (!first) throw new Error('the server accepted the upload but returned no image');
  return first;
}

const POLL_MS = 10_000;

export interface PeopleState {
  /** Undefined until the first answer. */
  people: Person[] | undefined;
  /** Why the last fetch failed, if it did. */
  error: string | undefined;
  reload: () => Promise<void>;
}

export function usePeople(): PeopleState {
  const { data: people, error, reload } = useLatest<Person[]>('/api/people');

  useEffect(() => {
    const refresh = () => {
      if (document.visibilityState === 'visible') void reload();
    };
    const timer = setInterval(refresh, POLL_MS);
    document.addEventListener('visibilitychange', refresh);
    void reload();
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', refresh);
    };
  }, [reload]);

  return { people, error, reload };
}
