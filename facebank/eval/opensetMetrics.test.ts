import { describe, expect, test } from 'vitest';
import { ratesAt, ratesAtFpir, thresholdForFpir } from './opensetMetrics.ts';
import { sampleGallery, splitIdentities, trial } from './opensetSplit.ts';

describe('open-set rates', () => {
  const probes = [
    { correct: true, score: 0.995 },
    { correct: true, score: 0.5 },
    { correct: false, score: 0.95 },
    { correct: true, score: Number.NEGATIVE_INFINITY },
  ];
  const strangers = Array.from({ length: 200 }, (_, i) => i / 200);

  test('DIR counts probes named as themselves at the threshold; FPIR strangers reaching it', () => {
    expect(ratesAt(probes, strangers, 0.6)).toMatchObject({ dir: 0.25, named: 1, falseNames: 80, fpir: 0.4 });
  });

  test('the FPIR threshold lets exactly floor(x × n) strangers through', () => {
    const t = thresholdForFpir(strangers, 0.01);
    expect(strangers.filter((s) => s >= t)).toHaveLength(2);
    expect(ratesAtFpir(probes, strangers, 0.01)).toMatchObject({ falseNames: 2, dir: 0.25 });
    expect(ratesAtFpir(probes, strangers, 0.001).falseNames).toBe(0);
  });
});

describe('open-set split', () => {
  const ids = [
    { name: 'A', images: ['A/1', 'A/2', 'A/3', 'A/4'] },
    { name: 'B', images: ['B/1', 'B/2', 'B/3'] },
    { name: 'C', images: ['C/1', 'C/2'] },
    { name: 'D', images: ['D/1'] },
  ];
  const split = splitIdentities(ids);

  test('gallery: ≥ 3 images, first 2 enrolled, the rest probes; strangers: everyone else', () => {
    expect(split.gallery.map((i) => i.name)).toEqual(['A', 'B']);
    const t = trial(split, split.gallery);
    expect(t.enrolment.get('A')).toEqual(['A/1', 'A/2']);
    expect(t.probes.map((p) => p.path)).toEqual(['A/3', 'A/4', 'B/3']);
    expect(t.strangers).toEqual(['C/1', 'C/2', 'D/1']);
  });

  test('a smaller gallery is the same seeded sample every time; the people left out become strangers', () => {
    const one = sampleGallery(split.gallery, 1, 7);
    expect(sampleGallery(split.gallery, 1, 7)).toEqual(one);
    const t = trial(split, one);
    const out = split.gallery.find((i) => i.name !== one[0]!.name)!;
    expect(t.strangers).toEqual([...out.images, 'C/1', 'C/2', 'D/1']);
  });
});
