// One camera's settings as the API, the config file and the registry take them: each field's limits and
// description are written here once. The URL's reachability (a file that exists, an rtsp:// host) is checked by
// the registry (validation.ts), as it depends on the machine, not on the value.
import { z } from 'zod';
import { MAX_MASKS, Shape } from '../motion/shapes.ts';

/** Above any camera's frame rate: a higher bound would only let a typo starve the other cameras. */
export const MAX_FPS = 120;

/** Above 8K: a typo, not a camera. */
export const MAX_DETECT_WIDTH = 7680;

const fields = {
  name: z
    .string()
    .trim()
    .min(1, 'the name is empty')
    .max(100, 'the name is longer than 100 characters')
    .meta({ description: 'a label for people (1–100 characters)' }),
  url: z.string().trim().min(1, 'the URL is empty').max(4096, 'the URL is longer than 4096 characters').meta({
    description:
      'rtsp:// or rtsps:// URL (credentials allowed: they are never logged or sent back) or a local video file path',
  }),
  enabled: z.boolean().meta({ description: 'decode and analyse this camera' }),
  maxDetectFps: z.number().gt(0, 'must be above 0').max(MAX_FPS, `must be at most ${MAX_FPS}`).meta({
    description: "upper bound on detections per second for this camera (default: the server's MAX_DETECT_FPS)",
  }),
  inputFps: z
    .number()
    .min(0, 'must be 0 or more')
    .max(MAX_FPS, `must be at most ${MAX_FPS}`)
    .meta({ description: "frames per second read from the source (0: the source's own rate)" }),
  motion: z.boolean().meta({
    description:
      "detect faces only where something moves or a face is being tracked (default: the server's CAMERA_MOTION)",
  }),
  motionThreshold: z
    .number()
    .min(1, 'must be at least 1')
    .max(255, 'must be at most 255')
    .meta({ description: 'grey levels (of 255) a pixel must change by to count as moving, after exposure changes' }),
  motionMinArea: z
    .number()
    .min(0, 'must be 0 or more')
    .max(1, 'must be at most 1')
    .meta({ description: 'smallest moving area that counts, as a fraction of the frame (0.001: 0.1%)' }),
  masks: z
    .array(Shape)
    .max(MAX_MASKS, `at most ${MAX_MASKS} masks`)
    .meta({ description: 'motion inside these (a TV screen, a tree, a timestamp overlay) is ignored' }),
  detectWidth: z
    .number()
    .int('must be a whole number')
    .min(0, 'must be 0 or more')
    .max(MAX_DETECT_WIDTH, `must be at most ${MAX_DETECT_WIDTH}`)
    .refine((w) => w === 0 || w >= 64, 'must be 0 (the source size) or at least 64')
    .meta({
      description:
        "width the camera is decoded at for detection, ffmpeg scaling it (0: the source's own); boxes are in its pixels; previews keep PREVIEW_WIDTH (at most this width)",
    }),
  detectRegion: Shape.nullable().meta({
    description: 'faces are looked for only inside this area, motion only counts there (null: the whole frame)',
  }),
};

/** Motion settings a camera gets when it sets none (README "Motion"). */
export const MOTION_DEFAULTS = { motionThreshold: 20, motionMinArea: 0.001 } as const;

/** The motion and region settings as stored with a camera (cameras_settings.analysis, JSON). */
export const StoredAnalysis = z.object({
  motion: fields.motion.optional(),
  motionThreshold: fields.motionThreshold.default(MOTION_DEFAULTS.motionThreshold),
  motionMinArea: fields.motionMinArea.default(MOTION_DEFAULTS.motionMinArea),
  masks: fields.masks.default([]),
  detectRegion: fields.detectRegion.default(null),
  detectWidth: fields.detectWidth.default(0),
});

/**
 * A camera to add: over the API (POST /api/cameras) or in the config file's `cameras`. A camera without its own
 * maxDetectFps follows the server's (MAX_DETECT_FPS), so that one has no default here.
 */
export const CameraSettingsInput = z.strictObject({
  name: fields.name,
  url: fields.url,
  enabled: fields.enabled.default(true),
  maxDetectFps: fields.maxDetectFps.optional(),
  inputFps: fields.inputFps.default(0),
  ...StoredAnalysis.shape,
});
export type CameraInput = z.input<typeof CameraSettingsInput>;
export type CheckedCameraInput = z.output<typeof CameraSettingsInput>;

/** The fields to change (PATCH /api/cameras/{id}). */
export const CameraSettingsPatch = z.strictObject({
  name: fields.name.optional(),
  url: fields.url.optional(),
  enabled: fields.enabled.optional(),
  maxDetectFps: fields.maxDetectFps.optional(),
  inputFps: fields.inputFps.optional(),
  motion: fields.motion.optional(),
  motionThreshold: fields.motionThreshold.optional(),
  motionMinArea: fields.motionMinArea.optional(),
  masks: fields.masks.optional(),
  detectRegion: fields.detectRegion.optional(),
  detectWidth: fields.detectWidth.optional(),
});

export type CameraPatch = z.input<typeof CameraSettingsPatch>;
