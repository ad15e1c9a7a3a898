// The one HTTP helper: every request carries the API key, and the server's JSON errors become ApiError.
import { apiKey, markKeyNeeded } from './key.ts';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function headers(init?: HeadersInit): Headers {
  const h = new Headers(init);
  const key = apiKey();
  if (key) h.set('X-API-Key', key);
  return h;
}

async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  if (res.ok) return res;
  let code = 'http_error';
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string') code = body.error;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // Not JSON (a proxy's error page): keep the status line.
  }
  if (res.status === 401) markKeyNeeded(true);
  throw new ApiError(res.status, code, message);
}

/** A JSON request; `body` other than FormData/Blob is sent as JSON. */
export async function api<T>(path: string, init: Omit<RequestInit, 'body'> & { body?: unknown } = {}): Promise<T> {
  const { body, ...rest } = init;
  const isRaw = body instanceof FormData || body instanceof Blob;
  const res = await request(path, {
    ...rest,
    ...(body === undefined ? {} : { body: isRaw ? body : JSON.stringify(body) }),
    headers: isRaw || body === undefined ? rest.headers : { 'Content-Type': 'application/json', ...rest.headers },
  });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Binary data (face crops, facebank images) with the key, which an <img src> could not carry. */
export async function apiBlob(path: string): Promise<Blob> {
  return (await request(path)).blob();
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
