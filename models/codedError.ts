// The base of every typed error with a stable code that reaches users (the HTTP API answers with the code,
// server/errors.ts). Subclasses set `name`, by which the server recognises them, also after a worker boundary.
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
