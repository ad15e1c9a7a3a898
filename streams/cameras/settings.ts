// One camera's settings as the API, the config file and the registry take them: each field's limits and
// description are written here once. The URL's reachability (a file that exists, an rtsp:// host) is checked by
// the registry (validation.ts), as it depends on the machine, not on the value.
import { z } from 'zod';

/** Above any camera's frame rate: a higher bound would only let a typo starve the other cameras. */
export const MAX_FPS = 120;

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
};

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
});
export type CameraPatch = z.input<typeof CameraSettingsPatch>;
