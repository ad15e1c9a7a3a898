// The one logger type below server/: pino's shape, so the server's pino Logger fits, and a silent one for when none
// is given. It lives in models/, the lowest layer, so facebank/ and streams/ can take it too.

/** pino-compatible: a pino Logger fits, so does any object with these four methods. */
export interface Logger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
  /** A logger that adds `bindings` (e.g. `{ camera }`) to every line. */
  child(bindings: Record<string, unknown>): Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
