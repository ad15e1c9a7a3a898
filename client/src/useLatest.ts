// A list fetched from the API, where only the newest request's answer is applied (answers can arrive out of
// order) and none after unmount: the shared state of the pages' live lists (cameras, people).
import { type Dispatch, type StateUpdater, useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, errorMessage } from './api.ts';

export interface LatestState<T> {
  /** Undefined until the first answer. */
  data: T | undefined;
  /** For updates between fetches (e.g. live health merged into the list). */
  setData: Dispatch<StateUpdater<T | undefined>>;
  /** Why the last fetch failed, if it did. */
  error: string | undefined;
  reload: () => Promise<void>;
}

export function useLatest<T>(path: string): LatestState<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const latest = useRef(0);

  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const answer = await api<T>(path);
      if (ticket !== latest.current) return;
      setData(answer);
      setError(undefined);
    } catch (err) {
      if (ticket === latest.current) setError(errorMessage(err));
    }
  }, [path]);

  // Answers still in flight at unmount are dropped.
  useEffect(
    () => () => {
      latest.current++;
    },
    [],
  );

  return { data, setData, error, reload };
}
