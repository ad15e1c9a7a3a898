// POST /rec and /id_info (the contract of the system facerec replaces) and POST /api/recognize (rich).
import { type Handler, Hono } from 'hono';
import type { Recognition } from '../../facebank/recognize.ts';
import type { FaceQuality } from '../../models/quality.ts';
import { requireKey } from '../auth.ts';
import type { AppDeps } from '../context.ts';
import { recognizerFor } from '../recognizer.ts';
import { imageUploads, jsonBody } from '../requestBody.ts';
import { AddImageRequest, RecRequest } from '../schemas.ts';
import { boxArray } from '../wire.ts';

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

function qualityBody(q: FaceQuality) {
  const m = q.measures;
  return {
    score: round(q.score, 3),
    verdict: q.verdict,
    reasons: q.reasons,
    interOcular: round(m.interOcular, 1),
    blur: round(m.blur, 3),
    yaw: round(m.yaw, 1),
    pitch: round(m.pitch, 1),
    roll: round(m.roll, 1),
  };
}

export function recognitionRoutes(deps: AppDeps): Hono {
  const { config, pool, facebank, metrics } = deps;
  const app = new Hono();
  app.use(requireKey(config.apiKey, 'read', config.recognitionRequiresKey));

  const recognizer = recognizerFor(config, pool, facebank);
  const recognize = async (bytes: Uint8Array): Promise<Recognition> => {
    const result = await recognizer(bytes);
    metrics.observeTimings(result.timings);
    return result;
  };

  // The contract of the replaced system: names, boxes and scores only (a poor face is just 'Unknown' here).
  const rec: Handler = async (c) => {
    const { file } = await jsonBody(c, RecRequest);
    const { faces } = await recognize(file);
    if (faces.length === 0) return c.json({ names: null, bboxes: null, scores: null });
    return c.json({
      names: faces.map((f) => f.match.name),
      bboxes: faces.map((f) => boxArray(f.box).map(Math.round)),
      scores: faces.map((f) => round(f.match.score, 4)),
    });
  };
  app.post('/rec', rec);
  // The original system's documentation named the same route /id_info.
  app.post('/id_info', rec);

  app.post('/api/recognize', async (c) => {
    const [upload] = await imageUploads(c, AddImageRequest);
    const r = await recognize(upload!.bytes);
    return c.json({
      width: r.width,
      height: r.height,
      threshold: facebank.threshold,
      minFaceQuality: config.minFaceQuality,
      faces: r.faces.map((f) => ({
        box: boxArray(f.box).map((v) => round(v, 1)),
        detectionScore: round(f.score, 4),
        landmarks: f.landmarks.map(([x, y]) => [round(x, 1), round(y, 1)]),
        name: f.match.name,
        candidate: f.match.candidate ?? null,
        similarity: round(f.match.score, 4),
        margin: round(f.match.margin, 4),
        ...(f.match.vetoed
          ? {
              vetoed: f.match.vetoed.map((v) => ({
                ...v,
                similarity: round(v.similarity, 4),
                personSimilarity: round(v.personSimilarity, 4),
              })),
            }
          : {}),
        ...(f.unknownReason ? { unknownReason: f.unknownReason } : {}),
        quality: qualityBody(f.quality),
      })),
      timings: Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, round(v ?? 0, 2)])),
    });
  });
  return app;
}
