// The API key, asked for once and kept for the browser session (sessionStorage: gone when the tab closes).
const STORAGE_KEY = 'facerec.apiKey';

type Listener = () => void;
const listeners = new Set<Listener>();

export function apiKey(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function setApiKey(key: string | undefined): void {
  if (key) sessionStorage.setItem(STORAGE_KEY, key);
  else sessionStorage.removeItem(STORAGE_KEY);
  for (const listener of listeners) listener();
}

/** Called when the server refused the key (or wants one): the app shows the key prompt. */
let needed = false;
export function keyNeeded(): boolean {
  return needed;
}
export function markKeyNeeded(value: boolean): void {
  if (needed === value) return;
  needed = value;
  for (const listener of listeners) listener();
}

export function onKeyChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
