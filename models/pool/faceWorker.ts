// The worker-thread side of face analysis: each thread opens its own sessions once, then decodes and
// analyses one image at a time (onnxruntime's run blocks whichever thread calls it).
import { type AnalyzedFace, type AnalyzeOptions, type AnalyzeTimings, analyze, openFaceModels } from '../analyze.ts';
import type { EmbedderShape } from '../embedder.ts';
import type { FaceModelFiles } from '../faceModelFiles.ts';
import { decodeImage, oneLibvipsThreadPerImage, type RgbImage } from '../image.ts';
import { warmUpQuality } from '../quality.ts';
import type { Provider, ProviderPreference } from '../runtime/session.ts';
import { serveRequests } from './workerHost.ts';

export interface FaceWorkerInit {
  provider: ProviderPreference;
  intraOpThreads: number;
  files: FaceModelFiles;
}

export interface FaceWorkerInfo {
  provider: Provider;
  fallbackReason?: string;
  embedderName: string;
  embedderShape: EmbedderShape;
}

export type FaceRequest =
  | { kind: 'encoded'; bytes: Uint8Array; maxPixels: number; options: AnalyzeOptions }
  | { kind: 'raw'; image: RgbImage; options: AnalyzeOptions };

export interface FaceResult {
  width: number;
  height: number;
  faces: AnalyzedFace[];
  timings: AnalyzeTimings & { decode?: number };
}

serveRequests<FaceWorkerInit, FaceRequest, FaceResult, FaceWorkerInfo>(
  async (init) => {
    oneLibvipsThreadPerImage();
    const models = await openFaceModels({ provider: init.provider, intraOpThreads: init.intraOpThreads }, init.files);
    warmUpQuality();
    return {
      info: {
        provider: models.provider,
        ...(models.fallbackReason ? { fallbackReason: models.fallbackReason } : {}),
        embedderName: models.embedderName,
        embedderShape: models.embedderShape,
      },
      handler: async (req) => {
        const timings: FaceResult['timings'] = {};
        let image: RgbImage;
        if (req.kind === 'encoded') {
          const t = performance.now();
          image = await decodeImage(req.bytes, { maxPixels: req.maxPixels });
          timings.decode = performance.now() - t;
        } else image = req.image;
        const faces = await analyze(models, image, req.options, timings);
        return { width: image.width, height: image.height, faces, timings };
      },
    };
  },
  (res) =>
    res.faces.flatMap((f) => [f.embedding.buffer, ...(f.signature ? [f.signature.buffer] : [])] as ArrayBuffer[]),
);
