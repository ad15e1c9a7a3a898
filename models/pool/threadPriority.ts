// Inference is the elastic part of the work: the camera scheduler keeps only each camera's latest frame, so when
// the CPU is short, fewer frames get detections. Everything else is not elastic: the main thread supervises
// the cameras (watchdogs, reconnects), reads their frames from ffmpeg and answers clients, and the decoders
// must keep up with their cameras. So inference threads run at a lower CPU priority (a higher nice value):
// a busy pool then slows detections, never a camera's frames, its recovery or the HTTP/Socket.IO answers.
// On an idle CPU the priority changes nothing.
import { getPriority, setPriority } from 'node:os';

/** Nice value of the inference threads (0 = normal, 19 = lowest); the main thread and ffmpeg stay at 0. */
export const INFERENCE_NICE = 10;

/**
 * Lowers the calling thread's CPU priority to `nice` (never raises it). On Linux a priority belongs to a thread,
 * and threads it starts afterwards (onnxruntime's, libvips') inherit it; elsewhere it may apply to the whole
 * process, so it is only done on Linux. Returns whether the priority is now at least that low.
 */
export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux') return false;
  try {
    if (getPriority(0) < nice) setPriority(0, nice);
    return getPriority(0) >= nice;
  } catch {
    return false;
  }
}
