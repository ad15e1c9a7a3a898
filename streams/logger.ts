// The logger the stream modules take: pino's shape, so a pino Logger fits, and a silent one for when none is given.

/** pino-compatible: a pino Logger fits, so does any object with these four methods. */
export interface StreamLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export const silentLogger: StreamLogger = { debug() {}, info() {}, warn() {}, error() {} };
