// Writes that fail because the storage is full or cannot be written, whichever layer saw it: a Node fs call
// (errno code) or SQLite through better-sqlite3 (SQLITE_ code). One typed error for both, so the server answers
// 507 with a message that says what could not be saved and what to do, instead of a 500. It lives in facebank/
// because that is the lowest layer that writes user data; streams/ (events) and server/ import it from here.

import { CodedError } from '../models/codedError.ts';

/** full: no space (or quota) left; unwritable: read-only filesystem or no permission to write. */
export type StorageProblem = 'full' | 'unwritable';

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
/** Codes that only a write can produce: safe to classify wherever they are caught. */
const WRITE_ONLY_UNWRITABLE = new Set(['EROFS']);
/** Also produced by reads (a folder the server may not list): a storage problem only where a write failed. */
const PERMISSION_CODES = new Set(['EACCES', 'EPERM']);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The storage problem behind `err`, if it is one. `write: true` where the failed call was a write, so that
 * permission errors count too (a read refused for permission is not a storage problem).
 */
export function storageProblem(err: unknown, write = false): StorageProblem | undefined {
  if (err instanceof StorageError) return err.problem;
  const code = codeOf(err);
  if (code === undefined) return undefined;
  if (FULL_CODES.has(code)) return 'full';
  // SQLITE_READONLY and its extended codes (SQLITE_READONLY_DBMOVED, ...): the database cannot be written.
  if (WRITE_ONLY_UNWRITABLE.has(code) || code.startsWith('SQLITE_READONLY')) return 'unwritable';
  if (write && PERMISSION_CODES.has(code)) return 'unwritable';
  return undefined;
}

const ADVICE: Record<StorageProblem, string> = {
  full: 'the storage is full; free some space in the data directory and retry',
  unwritable: 'the storage is read-only or the server may not write to it; make the data directory writable and retry',
};

/** The stable code clients see (the HTTP API answers 507 with it; `facerec enroll` prints it as the status). */
export type StorageErrorCode = 'storage_full' | 'storage_unwritable';

export class StorageError extends CodedError<StorageErrorCode> {
  override name = 'StorageError';
  /** The underlying code (ENOSPC, SQLITE_FULL, EROFS, ...), for logs. */
  readonly detail: string;
  constructor(
    readonly problem: StorageProblem,
    /** What could not be saved, e.g. `the photo of "amy"`. */
    readonly what: string,
    cause?: unknown,
  ) {
    super(problem === 'full' ? 'storage_full' : 'storage_unwritable', `could not save ${what}: ${ADVICE[problem]}`, {
      cause,
    });
    this.detail = codeOf(cause) ?? problem;
  }
}

/** `err` as a StorageError saying what could not be saved when it is a storage problem; otherwise undefined. */
export function asStorageError(err: unknown, what: string, write = true): StorageError | undefined {
  if (err instanceof StorageError) return err;
  const problem = storageProblem(err, write);
  return problem === undefined ? undefined : new StorageError(problem, what, err);
}
