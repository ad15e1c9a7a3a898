// An image's status as the facebank and unknown-faces pages show it: the server's statuses (facebank/types.ts),
// plus what the page knows before or instead of an answer (analysing, rejected, failed).
import { ApiError } from '../api.ts';
import type { ImageStatus } from '../wire.ts';

export type ShownStatus = ImageStatus | 'pending' | 'no_face' | 'error';

const LABELS: Record<ShownStatus, string> = {
  embedded: 'embedded',
  crop_fallback: 'no face',
  several_faces: 'several faces',
  poor_quality: 'poor photo',
  invalid_image: 'unreadable',
  no_face: 'no face',
  pending: 'analysing…',
  error: 'error',
};

/** Why each status matters to someone building a facebank (shown when the server sends no message). */
const HINTS: Partial<Record<ShownStatus, string>> = {
  crop_fallback: 'no face detected; the image was used whole, as a face crop',
  several_faces: 'several faces of similar size: crop the image to one person',
  poor_quality: 'the face is too small, blurred or turned away: not used for matching',
  invalid_image: 'the file could not be read as an image',
  no_face: 'no face was found in the image',
};

export function statusHint(status: ShownStatus, message?: string): string | undefined {
  return message ?? HINTS[status];
}

/** The status an upload's error stands for: the facebank's rejections have their own, anything else is 'error'. */
export function rejectedStatus(err: unknown): ShownStatus {
  if (!(err instanceof ApiError)) return 'error';
  switch (err.code) {
    case 'several_faces':
      return 'several_faces';
    case 'no_face':
      return 'no_face';
    case 'poor_quality':
      return 'poor_quality';
    case 'invalid_image':
    case 'empty_image':
    case 'truncated_image':
    case 'image_too_large':
      return 'invalid_image';
    default:
      return 'error';
  }
}

export function StatusBadge({ status }: { status: ShownStatus }) {
  return (
    <span class={`badge status-${status}`} data-status={status}>
      {LABELS[status]}
    </span>
  );
}
