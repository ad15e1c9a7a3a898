// Person and image names: validation, sanitising uploaded file names, and paths that cannot leave the facebank.
import { basename, extname, resolve, sep } from 'node:path';
import { FacebankError } from './types.ts';

export const MAX_NAME_CHARS = 100;
/** Most filesystems limit a name to 255 bytes; 100 characters of a non-Latin script can exceed that. */
export const MAX_NAME_BYTES = 255;

/** Extensions the scanner reads (compared lower-cased). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp']);

// C0 and C1 control characters and DEL (NUL included).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_GLOBAL = /[\u0000-\u001f\u007f-\u009f]/gu;

/** Why `name` is not a valid person or image name, or undefined when it is. `name` must already be trimmed. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if ([...name].length > MAX_NAME_CHARS) return `the name is longer than ${MAX_NAME_CHARS} characters`;
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `the name is longer than ${MAX_NAME_BYTES} bytes`;
  if (name.includes('/') || name.includes('\\')) return 'the name contains a slash or backslash';
  if (CONTROL.test(name)) return 'the name contains a control character';
  if (name === '.' || name === '..') return 'the name is "." or ".."';
  if (name.startsWith('.')) return 'the name starts with a dot';
  if (name !== name.trim()) return 'the name starts or ends with white space';
  return undefined;
}

function validate(kind: 'person' | 'image', raw: unknown): string {
  if (typeof raw !== 'string') throw new FacebankError('invalid_name', `invalid ${kind} name: not a string`);
  const name = raw.trim();
  const problem = nameProblem(name);
  if (problem !== undefined)
    throw new FacebankError('invalid_name', `invalid ${kind} name ${JSON.stringify(raw)}: ${problem}`);
  return name;
}

/** The trimmed person name; throws FacebankError('invalid_name'). */
export function validatePersonName(raw: string): string {
  return validate('person', raw);
}

/** The trimmed image file name; throws FacebankError('invalid_name'). */
export function validateImageName(raw: string): string {
  return validate('image', raw);
}

/** Whether a directory entry inside a person folder is an image the facebank reads. */
export function isImageFileName(name: string): boolean {
  return nameProblem(name) === undefined && IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

/**
 * `root/…parts` after checking each part is a valid name, and that the resolved path stays inside `root`
 * (belt and braces: valid names cannot contain separators or be '..').
 */
export function safeJoin(root: string, ...parts: string[]): string {
  for (const p of parts) {
    const problem = nameProblem(p);
    if (problem !== undefined) throw new FacebankError('invalid_name', `invalid name ${JSON.stringify(p)}: ${problem}`);
  }
  const path = resolve(root, ...parts);
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new FacebankError('invalid_name', `the path for ${JSON.stringify(parts.join('/'))} leaves the facebank`);
  }
  return path;
}

export type StoredFormat = 'jpeg' | 'png' | 'webp';

/** The extension a stored image of this format gets. */
export const FORMAT_EXTENSION: Record<StoredFormat, string> = { jpeg: '.jpg', png: '.png', webp: '.webp' };

/** Extensions stripped from an uploaded name before the stored format's extension is put on. */
const KNOWN_IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.jpe',
  '.jfif',
  '.png',
  '.webp',
  '.gif',
  '.bmp',
  '.tif',
  '.tiff',
  '.heic',
  '.heif',
  '.avif',
]);

/** Room left in a stem for a collision suffix such as '-123'. */
const SUFFIX_ROOM = 8;

function truncate(stem: string, maxChars: number, maxBytes: number): string {
  const chars = [...stem];
  if (chars.length > maxChars) chars.length = maxChars;
  while (chars.length > 0 && Buffer.byteLength(chars.join(''), 'utf8') > maxBytes) chars.pop();
  return chars.join('').trim();
}

/**
 * The stem an uploaded file name is stored under: its last path segment, without control characters, leading
 * dots, surrounding spaces or a known image extension, shortened to leave room for the extension and a suffix.
 * Undefined when nothing usable is left (the caller then names the file after its hash).
 */
export function sanitizeStem(originalName: string | undefined): string | undefined {
  if (originalName === undefined) return undefined;
  let name = basename(originalName.replaceAll('\\', '/')).normalize('NFC');
  name = name.replace(CONTROL_GLOBAL, '').trim();
  const ext = extname(name);
  if (KNOWN_IMAGE_EXTENSIONS.has(ext.toLowerCase())) name = name.slice(0, -ext.length);
  name = name.replace(/^[.\s]+/u, '').trim();
  const room = SUFFIX_ROOM + '.webp'.length;
  const stem = truncate(name, MAX_NAME_CHARS - room, MAX_NAME_BYTES - room);
  return stem.length > 0 && nameProblem(stem) === undefined ? stem : undefined;
}

/** `stem.ext` for attempt 0, then `stem-2.ext`, `stem-3.ext`, … */
export function candidateFileName(stem: string, format: StoredFormat, attempt: number): string {
  return `${stem}${attempt === 0 ? '' : `-${attempt + 1}`}${FORMAT_EXTENSION[format]}`;
}

/** The stored format, from the first bytes; undefined for anything but JPEG, PNG and WebP. */
export function sniffFormat(bytes: Uint8Array): StoredFormat | undefined {
  const at = (i: number) => bytes[i];
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.every((b, i) => at(i) === b)) return 'png';
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}
