// Every failure reaches the client as JSON `{ "error": <stable code>, "message": <for people> }`.
// Typed errors from below server/ are recognised by name (they may have crossed a worker boundary).
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { asStorageError } from '../facebank/storageError.ts';
import { CodedError } from '../models/codedError.ts';

export class HttpError extends CodedError {
  override name = 'HttpError';
  constructor(
    readonly status: ContentfulStatusCode,
    code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }
}

const FACEBANK_STATUS: Record<string, ContentfulStatusCode> = {
  invalid_name: 400,
  invalid_image: 400,
  person_exists: 409,
  person_not_found: 404,
  image_not_found: 404,
  several_faces: 422,
  no_face: 422,
  negative_not_found: 404,
  poor_quality: 422,
};

const CAMERA_STATUS: Record<string, ContentfulStatusCode> = {
  camera_not_found: 404,
  invalid_camera: 400,
  camera_read_only: 409,
};

interface Coded {
  name?: string;
  code?: string;
  message?: string;
}

/** Maps any thrown value to an HttpError; `undefined` means an unexpected error (a bug: log it). */
export function toHttpError(err: unknown): HttpError | undefined {
  if (err instanceof HttpError) return err;
  const e = (err ?? {}) as Coded;
  const message = e.message ?? 'unknown error';
  switch (e.name) {
    case 'ImageDecodeError':
      return new HttpError(400, e.code ?? 'invalid_image', message);
    case 'OverloadError':
      return new HttpError(503, 'overloaded', 'the recognition queue is full; retry shortly', { 'Retry-After': '1' });
    case 'PoolClosedError':
      return new HttpError(503, 'shutting_down', 'the server is shutting down', { 'Retry-After': '5' });
    case 'WorkerCrashError':
      return new HttpError(
        500,
        'inference_failed',
        'the inference worker failed on this request; it has been restarted',
      );
    case 'FacebankError': {
      const status = FACEBANK_STATUS[e.code ?? ''];
      return status ? new HttpError(status, e.code!, message) : undefined;
    }
    case 'CameraError': {
      const status = CAMERA_STATUS[e.code ?? ''];
      return status ? new HttpError(status, e.code!, message) : undefined;
    }
    default: {
      // A write that failed for want of space or write access anywhere below (SQLite or the filesystem), typed
      // or not (e.g. a database write of the camera registry): 507 Insufficient Storage for both, as the request
      // was fine and only an operator can make it succeed (see README "Full or read-only storage").
      const storage = asStorageError(err, 'the change', false);
      return storage && new HttpError(507, storage.code, storage.message);
    }
  }
}
