// Who may open a live connection: with an API key, whoever presents it at the handshake; without one, only this
// server's own pages (or non-browser clients), the same rule as the REST API's writes (../auth.ts).
import type { IncomingMessage } from 'node:http';
import { fromOwnPage, keyMatches } from '../auth.ts';
import type { HubServer, HubSocket } from './socket.ts';

const UNAUTHORIZED = 'unauthorized: a valid API key is required (auth: { apiKey } or the X-API-Key header)';

function presentedKey(socket: HubSocket): string | undefined {
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  if (typeof auth?.apiKey === 'string') return auth.apiKey;
  const headers = socket.handshake.headers;
  const header = headers['x-api-key'];
  if (typeof header === 'string') return header;
  return headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
}

/** engine.io's `allowRequest`: refuses pages of other sites when no key is set (the key check comes after). */
export function allowRequestFor(
  apiKey: string | undefined,
): (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void {
  return (req, callback) => {
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    callback(null, apiKey !== undefined || fromOwnPage(header('origin'), header('host'), header('x-forwarded-host')));
  };
}

/** Refuses a handshake without the key (when one is set), with an error the client can show. */
export function requireKey(io: HubServer, apiKey: string | undefined): void {
  io.use((socket, next) => {
    if (apiKey === undefined || keyMatches(apiKey, presentedKey(socket))) return next();
    next(Object.assign(new Error(UNAUTHORIZED), { data: { error: 'unauthorized', message: UNAUTHORIZED } }));
  });
}
