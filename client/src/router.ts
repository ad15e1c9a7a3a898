// Hash routes (#/live, #/live/<camera>, #/events, …): the server serves one index.html and never sees them.
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  page: string;
  /** Path segments after the page, decoded. */
  params: string[];
}

export function parseRoute(hash: string): Route {
  const [page = '', ...params] = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { page: page || 'live', params: params.map(decodeURIComponent) };
}

export function href(page: string, ...params: string[]): string {
  return `#/${[page, ...params.map(encodeURIComponent)].join('/')}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
