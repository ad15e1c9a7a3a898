// Reading request bodies into validated values, with the error codes the API documents.
import type { Context } from 'hono';
import type { z } from 'zod';
import { HttpError } from './errors.ts';

/** Validation messages from schemas.ts that have their own stable codes. */
const CODES: Record<string, string> = { 'not valid base64': 'invalid_base64', 'the image is empty': 'empty_image' };

function validationError(error: z.ZodError, code: string): HttpError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return new HttpError(400, CODES[issue?.message ?? ''] ?? code, `${where}${issue?.message ?? 'invalid request'}`);
}

/** `code` is the error code of a body that does not match `schema` (e.g. invalid_camera for camera settings). */
export async function jsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  code = 'invalid_request',
): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `expected Content-Type: application/json, got ${type || 'none'}`,
    );
  }
  const text = await c.req.text();
  if (text.trim() === '') throw new HttpError(400, 'empty_body', 'the request body is empty');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, code);
  return parsed.data;
}

export interface Upload {
  bytes: Uint8Array;
  filename?: string;
}

/** Images from a JSON body (`schema` yields `{ file, filename? }`) or from multipart/form-data files. */
export async function imageUploads<S extends z.ZodType<{ file: Uint8Array; filename?: string | undefined }>>(
  c: Context,
  schema: S,
): Promise<Upload[]> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data\b/i.test(type)) {
    const { file, filename } = await jsonBody(c, schema);
    return [{ bytes: file, ...(filename ? { filename } : {}) }];
  }
  let form: FormData;
  try {
    form = await c.req.formData();
  } catch {
    throw new HttpError(400, 'invalid_multipart', 'the multipart body could not be parsed');
  }
  const uploads: Upload[] = [];
  for (const value of form.values()) {
    if (typeof value === 'string') continue;
    uploads.push({ bytes: new Uint8Array(await value.arrayBuffer()), ...(value.name ? { filename: value.name } : {}) });
  }
  if (uploads.length === 0) throw new HttpError(400, 'empty_body', 'the multipart body has no file');
  return uploads;
}
