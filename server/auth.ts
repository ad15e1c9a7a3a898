// API-key checks. With a key configured, protected routes need it (X-API-Key or Authorization: Bearer).
// Without one, routes that change the facebank answer only clients on this machine, and only pages of this server.
import { createHash, timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { HttpError } from './errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function presentedKey(c: Context): string | undefined {
  const bearer = c.req.header('authorization')?.match(/^Bearer\s+(.+)$/i)?.[1];
  return c.req.header('x-api-key') ?? bearer;
}

export function keyMatches(configured: string, presented: string | undefined): boolean {
  return presented !== undefined && timingSafeEqual(digest(configured), digest(presented));
}

/**
 * Whether a request comes from no web page (curl, scripts: no Origin header) or from a page served by this server.
 * Browsers send Origin on cross-site requests and WebSocket handshakes. CORS does not stop a cross-site form
 * upload or a WebSocket, so without this check any site that someone on this machine visits could change a
 * server that has no API key, or watch its cameras. `X-Forwarded-Host` counts too, for reverse proxies.
 */
export function fromOwnPage(origin: string | undefined, host: string | undefined, forwardedHost?: string): boolean {
  if (origin === undefined) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) or garbage
  }
  return originHost === host || (forwardedHost !== undefined && originHost === forwardedHost);
}

export function isLocal(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/**
 * `mode: 'write'` — key required when configured, local clients only otherwise.
 * `mode: 'read'` — key required only when configured *and* `required` is set.
 */
export function requireKey(apiKey: string | undefined, mode: 'write' | 'read', required = true): MiddlewareHandler {
  return async (c, next) => {
    if (apiKey !== undefined) {
      if (required && !keyMatches(apiKey, presentedKey(c))) {
        throw new HttpError(401, 'unauthorized', 'a valid API key is required (X-API-Key header or Bearer token)');
      }
    } else if (mode === 'write' && !isLocal(getConnInfo(c).remote.address)) {
      throw new HttpError(
        403,
        'forbidden',
        'changing the facebank from another machine needs an API key: set API_KEY on the server',
      );
    } else if (
      mode === 'write' &&
      !fromOwnPage(c.req.header('origin'), c.req.header('host'), c.req.header('x-forwarded-host'))
    ) {
      throw new HttpError(403, 'forbidden', 'changes from a page of another site are refused without an API key');
    }
    await next();
  };
}
