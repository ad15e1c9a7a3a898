import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useFaceModels } from '../test/support/models.ts';
import { MTCNN_REFERENCE_DIR } from '../test/support/testdata.ts';
import { analyze } from './analyze.ts';
import { decodeImage } from './image.ts';

const models = await useFaceModels();
const photo = await decodeImage(readFileSync(`${MTCNN_REFERENCE_DIR}faces.jpg`), { maxPixels: 1e8 });
const copy = () => ({ ...photo, data: new Uint8Array(photo.data) });
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe('analyze', () => {
  it('embeds every face, L2-normalised', async () => {
    const faces = await analyze(models, copy());
    expect(faces).toHaveLength(6);
    for (const f of faces) {
      expect(f.embedding.length).toBe(models.embedderShape.dim);
      expect(dot(f.embedding, f.embedding)).toBeCloseTo(1, 4);
    }
  });

  it('skips the embedding of faces at known boxes and embeds the others as before', async () => {
    const all = await analyze(models, copy());
    // Two known faces, given as a tracker would: slightly shifted predictions of the detected boxes.
    const known = [all[1]!, all[4]!].map(({ box }) => ({
      x1: box.x1 + 6,
      y1: box.y1 - 4,
      x2: box.x2 + 6,
      y2: box.y2 - 4,
    }));
    const some = await analyze(models, copy(), { skipEmbeddingNear: known });
    expect(some.map((f) => f.box)).toEqual(all.map((f) => f.box));
    expect(some.map((f) => f.embedding.length > 0)).toEqual([true, false, true, true, false, true]);
    for (const i of [0, 2, 3, 5]) expect(dot(some[i]!.embedding, all[i]!.embedding)).toBeCloseTo(1, 5);
    // Known boxes far from every face skip nothing.
    const far = await analyze(models, copy(), { skipEmbeddingNear: [{ x1: 0, y1: 0, x2: 10, y2: 10 }] });
    expect(far.every((f) => f.embedding.length > 0)).toBe(true);
  });
});
