// The OpenAPI document, generated from the zod schemas that validate the requests (schemas.ts).
import { z } from 'zod';
import * as S from './schemas.ts';

type Schema = z.ZodType;

const ref = (s: Schema) => {
  const id = z.globalRegistry.get(s)?.id;
  return id ? { $ref: `#/components/schemas/${id}` } : z.toJSONSchema(s, { io: 'input' });
};
const json = (s: Schema) => ({ content: { 'application/json': { schema: ref(s) } } });
const imageForm = {
  'multipart/form-data': {
    schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } }, required: ['file'] },
  },
};
const ERROR_DESCRIPTIONS: Record<number, string> = {
  507:
    'Insufficient Storage: the change could not be saved because the storage is full (`storage_full`: no space ' +
    'or quota left) or cannot be written (`storage_unwritable`: read-only filesystem or no permission). Nothing ' +
    'was half-saved; retry once the data directory has space or is writable again.',
};
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((code) => [code, { description: ERROR_DESCRIPTIONS[code] ?? 'error', ...json(S.ErrorBody) }]),
  );
const personParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const fileParam = { name: 'file', in: 'path', required: true, schema: { type: 'string' } };
const cameraParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const eventParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const query = (name: string, type: string, description: string) => ({
  name,
  in: 'query',
  required: false,
  schema: { type },
  description,
});
const arrayOf = (s: Schema) => ({ content: { 'application/json': { schema: { type: 'array', items: ref(s) } } } });

const rec = {
  summary: 'Recognise the faces in one image (compatible with the system facerec replaces)',
  requestBody: { required: true, ...json(S.RecRequest) },
  responses: {
    200: { description: 'faces, largest first', ...json(S.RecResponse) },
    ...errors(400, 401, 413, 415, 503),
  },
};

export function openApiDocument(): object {
  const schemas = [
    S.RecRequest,
    S.RecResponse,
    S.RecognizedFace,
    S.RecognizeResponse,
    S.PersonName,
    S.AddImageRequest,
    S.FacebankImage,
    S.Person,
    S.Health,
    S.CameraInput,
    S.CameraPatch,
    S.CameraHealth,
    S.Camera,
    S.PersonEvent,
    S.NegativeExample,
    S.UnknownCluster,
    S.ErrorBody,
  ];
  return {
    openapi: '3.1.0',
    info: {
      title: 'facerec',
      version: '0.1.0',
      description: 'Self-hosted face recognition: MTCNN + ArcFace-style embeddings.',
    },
    components: {
      schemas: Object.fromEntries(
        schemas.map((s) => [z.globalRegistry.get(s)?.id, z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' })]),
      ),
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
    paths: {
      '/rec': { post: rec },
      '/id_info': { post: { ...rec, summary: 'Alias of /rec' } },
      '/api/recognize': {
        post: {
          summary: 'Recognise faces with boxes, landmarks, best match, margin and timings',
          requestBody: { required: true, content: { ...json(S.AddImageRequest).content, ...imageForm } },
          responses: {
            200: { description: 'the analysis', ...json(S.RecognizeResponse) },
            ...errors(400, 401, 413, 415, 503),
          },
        },
      },
      '/api/people': {
        get: {
          summary: 'List people and their images',
          responses: {
            200: {
              description: 'people',
              content: { 'application/json': { schema: { type: 'array', items: ref(S.Person) } } },
            },
          },
        },
        post: {
          summary: 'Create a person',
          security: [{ apiKey: [] }],
          requestBody: { required: true, ...json(S.PersonName) },
          responses: { 201: { description: 'created', ...json(S.Person) }, ...errors(400, 401, 403, 409, 507) },
        },
      },
      '/api/people/{name}': {
        parameters: [personParam],
        get: {
          summary: 'One person',
          responses: { 200: { description: 'the person', ...json(S.Person) }, ...errors(404) },
        },
        patch: {
          summary: 'Rename a person',
          security: [{ apiKey: [] }],
          requestBody: { required: true, ...json(S.PersonName) },
          responses: { 200: { description: 'renamed', ...json(S.Person) }, ...errors(400, 401, 403, 404, 409, 507) },
        },
        delete: {
          summary: 'Delete a person and their images',
          security: [{ apiKey: [] }],
          responses: { 204: { description: 'deleted' }, ...errors(401, 403, 404, 507) },
        },
      },
      '/api/people/{name}/images': {
        parameters: [personParam],
        post: {
          summary: 'Add images (base64 JSON, or one or more multipart files); creates the person if needed',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: { ...json(S.AddImageRequest).content, ...imageForm } },
          responses: {
            201: {
              description: 'each image with its status',
              content: { 'application/json': { schema: { type: 'array', items: ref(S.FacebankImage) } } },
            },
            ...errors(400, 401, 403, 413, 415, 422, 503, 507),
          },
        },
      },
      '/api/people/{name}/images/{file}': {
        parameters: [personParam, fileParam],
        get: { summary: 'The image file', responses: { 200: { description: 'the image bytes' }, ...errors(404) } },
        delete: {
          summary: 'Remove an image',
          security: [{ apiKey: [] }],
          responses: { 204: { description: 'removed' }, ...errors(401, 403, 404, 507) },
        },
      },
      '/api/people/{name}/negatives': {
        parameters: [personParam],
        get: {
          summary: 'Negative examples of a person ("not this person"), oldest first',
          security: [{ apiKey: [] }],
          responses: { 200: { description: 'negatives', ...arrayOf(S.NegativeExample) }, ...errors(401, 404) },
        },
        post: {
          summary: 'Add negative examples from images of one face each: that face is no longer named this person',
          security: [{ apiKey: [] }],
          requestBody: { required: true, content: { ...json(S.AddImageRequest).content, ...imageForm } },
          responses: {
            201: { description: 'the negatives', ...arrayOf(S.NegativeExample) },
            ...errors(400, 401, 403, 404, 413, 415, 503, 507),
          },
        },
      },
      '/api/people/{name}/negatives/{id}': {
        parameters: [personParam, { name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        delete: {
          summary: 'Remove a negative example (undo "not this person")',
          security: [{ apiKey: [] }],
          responses: { 204: { description: 'removed' }, ...errors(401, 403, 404, 507) },
        },
      },
      '/api/cameras': {
        get: {
          summary: 'List cameras with their health',
          security: [{ apiKey: [] }],
          responses: { 200: { description: 'cameras', ...arrayOf(S.Camera) }, ...errors(401) },
        },
        post: {
          summary:
            'Add a camera (RTSP URL or local video file); it starts at once unless enabled is false. Motion gating (motion, motionThreshold, motionMinArea), masks (motion inside them is ignored) and a detection region (faces only inside it) are set here and by PATCH, as rectangles or polygons in 0..1 frame coordinates',
          security: [{ apiKey: [] }],
          requestBody: { required: true, ...json(S.CameraInput) },
          responses: { 201: { description: 'added', ...json(S.Camera) }, ...errors(400, 401, 403, 415, 507) },
        },
      },
      '/api/cameras/{id}': {
        parameters: [cameraParam],
        get: {
          summary: 'One camera with its health',
          security: [{ apiKey: [] }],
          responses: { 200: { description: 'the camera', ...json(S.Camera) }, ...errors(401, 404) },
        },
        patch: {
          summary:
            'Change a camera (cameras from the config file are read-only: 409); masks and detectRegion replace the old ones (detectRegion null: the whole frame); motion settings apply from the next frame, without a restart',
          security: [{ apiKey: [] }],
          requestBody: { required: true, ...json(S.CameraPatch) },
          responses: {
            200: { description: 'changed', ...json(S.Camera) },
            ...errors(400, 401, 403, 404, 409, 415, 507),
          },
        },
        delete: {
          summary: 'Stop and remove a camera (its events are kept)',
          security: [{ apiKey: [] }],
          responses: { 204: { description: 'removed' }, ...errors(401, 403, 404, 409, 507) },
        },
      },
      '/api/events': {
        get: {
          summary: 'Person events (appeared, left), newest first',
          security: [{ apiKey: [] }],
          parameters: [
            query('camera', 'string', 'only this camera id'),
            query('name', 'string', 'only this person ("Unknown" included)'),
            query('since', 'integer', 'events at or after this time (epoch ms)'),
            query(
              'before',
              'integer',
              'the next page: the events listed after this one (the last id of the previous page)',
            ),
            query('limit', 'integer', 'at most this many, 1–1000 (default 100)'),
          ],
          responses: { 200: { description: 'events', ...arrayOf(S.PersonEvent) }, ...errors(400, 401) },
        },
      },
      '/api/events/{id}/crop': {
        parameters: [eventParam],
        get: {
          summary: "The event's best face crop",
          security: [{ apiKey: [] }],
          responses: {
            200: { description: 'JPEG', content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } } },
            ...errors(401, 404),
          },
        },
      },
      '/api/events/{id}/reject': {
        parameters: [eventParam],
        post: {
          summary:
            "Not this person: the event's face is no longer named as the event's person (undo: DELETE the negative)",
          security: [{ apiKey: [] }],
          responses: {
            201: { description: 'the new negative example', ...json(S.NegativeExample) },
            200: { description: 'the event was already rejected: its negative example', ...json(S.NegativeExample) },
            ...errors(401, 403, 404, 409, 503, 507),
          },
        },
      },
      '/api/unknowns': {
        get: {
          summary: 'The newest Unknown visits (with a crop), grouped by person, the most recently seen first',
          security: [{ apiKey: [] }],
          parameters: [query('limit', 'integer', 'group the newest this many visits, 1–1000 (default 300)')],
          responses: { 200: { description: 'clusters', ...arrayOf(S.UnknownCluster) }, ...errors(400, 401, 503) },
        },
      },
      '/api/health': {
        get: {
          summary: 'Models, provider, facebank size, queue depth, integrations and, in a cluster, the nodes and leases',
          responses: { 200: { description: 'health', ...json(S.Health) } },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format' } } },
      },
    },
  };
}
