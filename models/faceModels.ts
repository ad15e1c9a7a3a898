// The face models opened by name, on the main thread (scripts, tests); worker threads get resolved paths
// (models/faceModelFiles.ts says why).
import { type FaceModels, openFaceModels } from './analyze.ts';
import { faceModelFiles } from './faceModelFiles.ts';
import type { SessionSettings } from './runtime/session.ts';

export function loadFaceModels(settings: SessionSettings, embedder = 'mobilefacenet'): Promise<FaceModels> {
  return openFaceModels(settings, faceModelFiles(embedder));
}
