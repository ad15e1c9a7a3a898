// Paths into ../shared/testdata (read in place: test photos are never copied into the repository).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TESTDATA = fileURLToPath(new URL('../../../shared/testdata/', import.meta.url));

if (!existsSync(TESTDATA)) {
  throw new Error(`test data not found at ${TESTDATA}: the repository must sit beside shared/`);
}

export const PEOPLE = ['amy', 'bernadette', 'howard', 'leonard', 'penny', 'raj', 'sheldon', 'stuart'] as const;
export type Person = (typeof PEOPLE)[number];

export function personImage(person: Person, n: number): string {
  return `${TESTDATA}bbt/people/${person}/${person}${n}.png`;
}

export const SCENES = [1, 2, 3, 4, 5].map((n) => `${TESTDATA}bbt/scenes/bbt${n}.jpg`);
export const MTCNN_REFERENCE_DIR = `${TESTDATA}mtcnn-reference/`;
export const LFW_DEV_DIR = `${TESTDATA}lfw-dev/`;
