// Grouping real faces: the BBT people's five photos each, embedded by the real pool, group by person.
import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { embedOneFace } from '../facebank/analysis.ts';
import { SAME_FACE_BOUND } from '../facebank/negatives.ts';
import { usePool } from '../facebank/testing.ts';
import { PEOPLE, personImage } from '../test/support/testdata.ts';
import { byTypicality, clusterFaces } from './faceClusters.ts';

describe('clusterFaces', () => {
  const { pool } = usePool();

  test('groups 8 people × 5 photos without mixing people', async () => {
    const faces: { person: string; e: Float32Array }[] = [];
    // Interleaved, as visits come.
    for (const n of [1, 2, 3, 4, 5]) {
      for (const person of PEOPLE) {
        const e = await embedOneFace(pool(), await readFile(personImage(person, n)), { maxPixels: 4e7, flip: false });
        faces.push({ person, e });
      }
    }
    const groups = clusterFaces(
      faces.map((f) => f.e),
      SAME_FACE_BOUND,
    );
    const people = groups.map((g) => [...new Set(g.map((i) => faces[i]!.person))]);
    console.log(`bbt groups: ${people.map((p, i) => `${p.join('+')}×${groups[i]!.length}`).join(', ')}`);
    expect(groups.flat().sort((a, b) => a - b)).toEqual(faces.map((_, i) => i));
    // Never two people in one group.
    expect(people.every((p) => p.length === 1)).toBe(true);
    // And one group per person (measured: 8 groups of 5).
    expect(groups.length).toBe(PEOPLE.length);
    const typical = byTypicality(
      faces.map((f) => f.e),
      groups[0]!,
    );
    expect(new Set(typical)).toEqual(new Set(groups[0]));
  });

  test('a bound above every similarity keeps each face alone; one below all merges them', () => {
    const a = Float32Array.from([1, 0, 0]);
    const b = Float32Array.from([0.8, 0.6, 0]);
    const c = Float32Array.from([0, 0, 1]);
    expect(clusterFaces([a, b, c], 0.99)).toEqual([[0], [1], [2]]);
    expect(clusterFaces([a, b, c], 0.7)).toEqual([[0, 1], [2]]);
    expect(clusterFaces([a, b, c], -1)).toEqual([[0, 1, 2]]);
  });
});
