// API-key checks. With a key configured, protected routes need it (X-API-Key or Authorization: Bearer).
// Without one, routes that change the facebank answer only clients on this machine.
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
    }
    await next();
  };
}
