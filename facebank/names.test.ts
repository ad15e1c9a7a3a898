import { describe, expect, test } from 'vitest';
import {
  candidateFileName,
  isImageFileName,
  safeJoin,
  sanitizeStem,
  sniffFormat,
  validateImageName,
  validatePersonName,
} from './names.ts';
import { FacebankError } from './types.ts';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof FacebankError ? err.code : `not a FacebankError: ${String(err)}`;
  }
  return undefined;
}

describe('names', () => {
  test.each([
    '../x',
    'a/b',
    'a\\b',
    '.',
    '..',
    '',
    '   ',
    '\u0000x',
    'x\u0007',
    'a\nb',
    'x\u009b',
    '.hidden',
    ' .hidden',
    'x'.repeat(101),
    '字'.repeat(90), // 90 characters but 270 bytes
  ])('rejects %j', (name) => {
    expect(code(() => validatePersonName(name))).toBe('invalid_name');
    expect(code(() => validateImageName(name))).toBe('invalid_name');
  });

  test('accepts and trims ordinary names', () => {
    expect(validatePersonName('  Amy Farrah Fowler ')).toBe('Amy Farrah Fowler');
    expect(validatePersonName('Zoë')).toBe('Zoë');
    expect(validatePersonName('x'.repeat(100))).toBe('x'.repeat(100));
    expect(validatePersonName('a..b')).toBe('a..b');
    expect(validateImageName('amy 1.png')).toBe('amy 1.png');
  });

  test('image files are recognised by extension, case-insensitively', () => {
    for (const f of ['a.jpg', 'a.JPEG', 'a.png', 'a.webp']) expect(isImageFileName(f)).toBe(true);
    for (const f of ['a.gif', 'notes.txt', '.a.png', 'png', '.facebank-tmp-0123'])
      expect(isImageFileName(f)).toBe(false);
  });

  test('safeJoin stays inside the root', () => {
    expect(safeJoin('/fb', 'amy', 'a.png')).toBe('/fb/amy/a.png');
    expect(code(() => safeJoin('/fb', '..', 'etc'))).toBe('invalid_name');
    expect(code(() => safeJoin('/fb', 'amy', '../../etc/passwd'))).toBe('invalid_name');
  });

  test('uploaded names are sanitised to a stem', () => {
    expect(sanitizeStem('photo.JPG')).toBe('photo');
    expect(sanitizeStem('C:\\Users\\amy\\Pictures\\me.png')).toBe('me');
    expect(sanitizeStem('../../etc/passwd')).toBe('passwd');
    expect(sanitizeStem('.bashrc')).toBe('bashrc');
    expect(sanitizeStem('a\u0000b\u0007c.webp')).toBe('abc');
    expect(sanitizeStem('notes.final')).toBe('notes.final');
    expect(sanitizeStem('..')).toBeUndefined();
    expect(sanitizeStem('   .png')).toBe('png'); // a dotfile name has no extension: its dot is stripped
    expect(sanitizeStem(' . ')).toBeUndefined();
    expect(sanitizeStem(undefined)).toBeUndefined();
    const long = sanitizeStem(`${'字'.repeat(200)}.png`)!;
    expect(Buffer.byteLength(candidateFileName(long, 'webp', 99), 'utf8')).toBeLessThanOrEqual(255);
    expect([...candidateFileName(long, 'webp', 99)].length).toBeLessThanOrEqual(100);
    expect(candidateFileName('me', 'jpeg', 0)).toBe('me.jpg');
    expect(candidateFileName('me', 'png', 2)).toBe('me-3.png');
  });

  test('formats are sniffed from the first bytes', () => {
    expect(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffFormat(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]))).toBe('png');
    expect(sniffFormat(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffFormat(new TextEncoder().encode('GIF89a'))).toBeUndefined();
    expect(sniffFormat(new Uint8Array(0))).toBeUndefined();
  });
});
