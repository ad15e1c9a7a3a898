// Request and response shapes: the same zod schemas validate requests and generate /api/openapi.json.
import { z } from 'zod';

/** Standard or URL-safe base64, optionally as a data: URL; whitespace (line breaks) is ignored. */
export const Base64Image = z
  .string()
  .transform((s) => s.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, ''))
  .refine((s) => s.length > 0, { message: 'the image is empty' })
  .refine((s) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(s) && s.length % 4 !== 1, { message: 'not valid base64' })
  .transform((s) => new Uint8Array(Buffer.from(s, 'base64')))
  .meta({ description: 'the image (JPEG, PNG, WebP, …) as base64, optionally a data: URL' });

export const RecRequest = z.object({ file: Base64Image }).meta({ id: 'RecRequest' });

export const RecResponse = z
  .object({
    names: z.array(z.string()).nullable(),
    bboxes: z.array(z.tuple([z.number(), z.number(), z.number(), z.number()])).nullable(),
    scores: z.array(z.number()).nullable(),
  })
  .meta({
    id: 'RecResponse',
    description:
      'One entry per face, largest first; each field is null when no face is found. Names are "Unknown" below the ' +
      'match threshold. Boxes are [x1, y1, x2, y2] in image pixels. Scores are the cosine similarity to the best match.',
  });

const Point = z.tuple([z.number(), z.number()]);

export const RecognizedFace = z
  .object({
    box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
    detectionScore: z.number(),
    landmarks: z.array(Point).length(5),
    name: z.string().meta({ description: 'the matched person, or "Unknown" below the threshold' }),
    candidate: z.string().nullable().meta({ description: 'the most similar person, even when below the threshold' }),
    similarity: z.number(),
    margin: z.number().meta({ description: 'similarity of the best person minus that of the next different person' }),
  })
  .meta({ id: 'RecognizedFace' });

export const RecognizeResponse = z
  .object({
    width: z.number(),
    height: z.number(),
    threshold: z.number(),
    faces: z.array(RecognizedFace),
    timings: z.record(z.string(), z.number()).meta({ description: 'milliseconds per stage' }),
  })
  .meta({ id: 'RecognizeResponse' });

export const PersonName = z.object({ name: z.string() }).meta({ id: 'PersonName' });

export const AddImageRequest = z
  .object({ file: Base64Image, filename: z.string().optional() })
  .meta({ id: 'AddImageRequest' });

export const FacebankImage = z
  .object({
    person: z.string(),
    file: z.string(),
    status: z.enum(['embedded', 'crop_fallback', 'several_faces', 'invalid_image']),
    message: z.string().optional(),
    sha256: z.string(),
  })
  .meta({ id: 'FacebankImage' });

export const Person = z.object({ name: z.string(), images: z.array(FacebankImage) }).meta({ id: 'Person' });

export const Health = z
  .object({
    status: z.enum(['ok']),
    provider: z.enum(['cpu', 'cuda']),
    providerNote: z.string().optional(),
    modelsLoaded: z.boolean(),
    embedder: z.string(),
    workers: z.number(),
    queueDepth: z.number(),
    busyWorkers: z.number(),
    facebank: z.object({ people: z.number(), images: z.number(), templates: z.number() }),
    threshold: z.number(),
  })
  .meta({ id: 'Health' });

export const ErrorBody = z
  .object({ error: z.string().meta({ description: 'a stable code' }), message: z.string() })
  .meta({ id: 'Error' });
