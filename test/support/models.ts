// Real models for tests: loaded once per test file, released after.
import { afterAll } from 'vitest';
import { type FaceModels, releaseFaceModels } from '../../models/analyze.ts';
import { loadFaceModels } from '../../models/faceModels.ts';

export async function useFaceModels(): Promise<FaceModels> {
  const models = await loadFaceModels({ provider: 'cpu', intraOpThreads: 2 });
  afterAll(() => releaseFaceModels(models));
  return models;
}
