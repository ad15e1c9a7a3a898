// Request and response shapes: the same zod schemas validate requests and generate /api/openapi.json.
import { z } from 'zod';
import { CameraSettingsInput, CameraSettingsPatch } from '../streams/cameras/settings.ts';
import type { CameraHealth as PipelineCameraHealth } from '../streams/types.ts';
import { ALLOCATORS } from './allocator.ts';
import { ClusterHealth } from './cluster/status.ts';
import { IntegrationsHealth } from './integrations/health.ts';
import { RedisHealth } from './live/redisLink.ts';

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

export const FaceQuality = z
  .object({
    score: z.number().meta({ description: 'the weakest component, 0..1; below minFaceQuality the face is poor' }),
    verdict: z.enum(['ok', 'poor']),
    reasons: z.array(z.enum(['too_small', 'blurred', 'turned_away', 'low_confidence'])),
    interOcular: z.number().meta({ description: 'pixels between the eyes, in the image' }),
    blur: z.number().meta({ description: '0 sharp … 1 flat (no-reference blur of the aligned face)' }),
    yaw: z.number().meta({ description: 'estimated from the landmarks, degrees' }),
    pitch: z.number().meta({ description: 'estimated from the landmarks, degrees' }),
    roll: z.number().meta({ description: 'tilt of the eye line, degrees' }),
  })
  .meta({ id: 'FaceQuality' });

export const RecognizedFace = z
  .object({
    box: z.tuple([z.number(), z.number(), z.number(), z.number()]),
    detectionScore: z.number(),
    landmarks: z.array(Point).length(5),
    name: z
      .string()
      .meta({ description: 'the matched person, or "Unknown" below the threshold or for a poor face (unknownReason)' }),
    candidate: z.string().nullable().meta({ description: 'the most similar person, even when below the threshold' }),
    similarity: z.number(),
    margin: z.number().meta({ description: 'similarity of the best person minus that of the next different person' }),
    vetoed: z
      .array(
        z.object({
          person: z.string(),
          negativeId: z.number(),
          similarity: z.number().meta({ description: 'cosine with that negative example' }),
          personSimilarity: z.number().meta({ description: "best cosine with the person's own images" }),
        }),
      )
      .optional()
      .meta({
        description:
          'people passed over because this face is the same face as one of their negative examples ("not this ' +
          'person"); absent when none was',
      }),
    unknownReason: z.enum(['poor_quality', 'no_match']).optional().meta({
      description:
        'why the name is "Unknown": the face is too poor to name (see quality.reasons), or nobody matched it',
    }),
    quality: FaceQuality,
  })
  .meta({ id: 'RecognizedFace' });

export const RecognizeResponse = z
  .object({
    width: z.number(),
    height: z.number(),
    threshold: z.number(),
    minFaceQuality: z.number(),
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
    status: z.enum(['embedded', 'crop_fallback', 'several_faces', 'invalid_image', 'poor_quality']),
    message: z.string().optional(),
    sha256: z.string(),
  })
  .meta({ id: 'FacebankImage' });

export const Person = z.object({ name: z.string(), images: z.array(FacebankImage) }).meta({ id: 'Person' });

export const OperatingPoint = z
  .object({
    threshold: z.number().meta({ description: 'cosine similarity at or above which a face is named' }),
    source: z.enum(['override', 'calibration', 'facebank', 'fallback']).meta({
      description:
        "override: MATCH_THRESHOLD is set; calibration: derived from MATCH_FPIR and the model's committed impostor " +
        "calibration; facebank: from the facebank's own cross-person scores; fallback: 0.4, no impostor scores exist",
    }),
    fpir: z
      .number()
      .optional()
      .meta({ description: 'the accepted rate of false names (MATCH_FPIR); absent for an override' }),
    people: z.number().meta({ description: 'the facebank size the threshold was derived for' }),
    reason: z.string().meta({ description: 'the same in plain words' }),
  })
  .meta({ id: 'OperatingPoint' });

export const Health = z
  .object({
    status: z.enum(['ok']),
    provider: z.enum(['cpu', 'cuda']),
    providerNote: z.string().optional(),
    allocator: z.enum(ALLOCATORS).meta({
      description: "the process's malloc: jemalloc (npm start, where installed), glibc-tuned (its fallback) or glibc",
    }),
    modelsLoaded: z.boolean(),
    embedder: z.string(),
    workers: z.number(),
    queueDepth: z.number(),
    busyWorkers: z.number(),
    facebank: z.object({ people: z.number(), images: z.number(), templates: z.number() }),
    threshold: z.number().meta({ description: 'the cosine threshold in force (operatingPoint.threshold)' }),
    operatingPoint: OperatingPoint,
    events: z
      .object({
        dropped: z
          .number()
          .meta({ description: 'person events not stored since the start (storage full or read-only)' }),
        byProblem: z.object({ full: z.number(), unwritable: z.number() }),
        byCamera: z.record(z.string(), z.number()).meta({ description: 'dropped events per camera id' }),
        dropping: z.boolean().meta({ description: 'the last event could not be stored: events are being dropped now' }),
        lastProblem: z.enum(['full', 'unwritable']).optional(),
        lastDropAt: z.number().optional().meta({ description: 'epoch milliseconds' }),
      })
      .meta({ description: 'person events the storage could not take (README: Full or read-only storage)' }),
    integrations: IntegrationsHealth,
    redis: RedisHealth,
    cluster: ClusterHealth,
  })
  .meta({ id: 'Health' });

export const ErrorBody = z
  .object({ error: z.string().meta({ description: 'a stable code' }), message: z.string() })
  .meta({ id: 'Error' });

// ---- cameras and events (streams/)

export const CameraInput = CameraSettingsInput.meta({ id: 'CameraInput' });

export const CameraPatch = CameraSettingsPatch.meta({ id: 'CameraPatch', description: 'the fields to change' });

const CameraKind = z.enum(['rtsp', 'file', 'webrtc']);

export const CameraHealth = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: CameraKind,
    state: z.enum(['connecting', 'live', 'stalled', 'reconnecting', 'stopped']).meta({
      description:
        'connecting: first connection; live: frames arriving; stalled: no frame within the watchdog time; ' +
        'reconnecting: waiting to retry after a failure; stopped: disabled',
    }),
    inputFps: z.number().meta({ description: 'frames per second arriving from the source' }),
    processedFps: z.number().meta({ description: 'frames per second that went through detection' }),
    lagMs: z
      .object({ p50: z.number(), p95: z.number() })
      .meta({ description: 'frame captured → detections emitted, milliseconds, over recent frames' }),
    reconnects: z.number(),
    lastError: z.string().optional(),
    lastFrameAt: z.number().optional().meta({ description: 'epoch milliseconds' }),
    eventsDropped: z
      .number()
      .optional()
      .meta({ description: "this camera's person events not stored since the start (storage full or read-only)" }),
    motion: z
      .object({
        skippedFrames: z.number().meta({ description: 'frames with no motion and no tracked face: not analysed' }),
        croppedFrames: z.number().meta({ description: 'frames sent to detection as a crop around motion and faces' }),
        wholeFrames: z.number().meta({ description: 'frames sent to detection whole (large motion, a new scene)' }),
        movingFraction: z.number().meta({ description: "the last frame's moving share of the watched area (0..1)" }),
      })
      .optional()
      .meta({ description: "the motion gate's decisions since the camera (re)started; absent while stopped" }),
  })
  .meta({ id: 'CameraHealth' });

/** True when A and B are assignable both ways. */
type SameShape<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The pipelines' CameraHealth (streams/types.ts) is what this schema documents: this line stops compiling when a
// field is added to, dropped from or retyped in one and not the other.
const cameraHealthDocumented: SameShape<z.infer<typeof CameraHealth>, PipelineCameraHealth> = true;
void cameraHealthDocumented;

export const Camera = z
  .object({
    id: z.string(),
    name: z.string(),
    url: z.string().meta({ description: 'the URL with credentials redacted' }),
    enabled: z.boolean(),
    maxDetectFps: z.number(),
    inputFps: z.number(),
    motion: CameraSettingsInput.shape.motion.unwrap(),
    motionThreshold: CameraSettingsInput.shape.motionThreshold.unwrap(),
    motionMinArea: CameraSettingsInput.shape.motionMinArea.unwrap(),
    masks: CameraSettingsInput.shape.masks.unwrap(),
    detectRegion: CameraSettingsInput.shape.detectRegion.unwrap(),
    detectWidth: CameraSettingsInput.shape.detectWidth.unwrap(),
    kind: CameraKind,
    persistent: z.boolean().meta({ description: 'stored in the database (added over the API)' }),
    origin: z.enum(['api', 'config', 'session']).meta({
      description: 'api: added over the API; config: declared in the config file; session: a live browser stream',
    }),
    readOnly: z.boolean().meta({ description: 'config and session cameras cannot be changed or removed (409)' }),
    health: CameraHealth,
  })
  .meta({ id: 'Camera' });

export const PersonEvent = z
  .object({
    id: z.number(),
    type: z.enum(['person_appeared', 'person_left']),
    cameraId: z.string(),
    trackId: z.number(),
    name: z.string().meta({ description: 'the person, or "Unknown"' }),
    score: z.number(),
    at: z.number().meta({ description: 'epoch milliseconds' }),
    cropUrl: z.string().nullable().meta({ description: "the track's best face crop (JPEG), when kept" }),
  })
  .meta({ id: 'PersonEvent' });

/** Query string of GET /api/events. */
export const EventsQuery = z.object({
  camera: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  since: z.coerce.number().int().min(0).optional(),
  before: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

// ---- feedback ("not this person", unknown faces)

export const NegativeExample = z
  .object({
    id: z.number().meta({ description: 'what DELETE takes; the same on every node (Running several nodes)' }),
    person: z.string().meta({ description: 'the person this face is not' }),
    eventId: z.number().nullable().meta({ description: 'the event it was rejected on, if any' }),
    sha256: z.string().nullable().meta({ description: 'the uploaded image it came from, if any' }),
    cropUrl: z.string().nullable().meta({ description: "the event's face crop, while it is kept" }),
    createdAt: z.number().meta({ description: 'epoch milliseconds' }),
  })
  .meta({
    id: 'NegativeExample',
    description: 'a face that is not this person: faces that are the same face are not given the name again',
  });

export const UnknownCluster = z
  .object({
    id: z.number().meta({ description: "the cluster's oldest event id (stable while visits are added)" }),
    count: z.number(),
    first: z.number().meta({ description: 'epoch ms of the first visit' }),
    last: z.number().meta({ description: 'epoch ms of the last visit' }),
    events: z.array(PersonEvent).meta({ description: 'the visits, most typical face first' }),
  })
  .meta({ id: 'UnknownCluster', description: 'repeated visits of one person the facebank does not know' });

/** Query string of GET /api/unknowns. */
export const UnknownsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(300),
});
