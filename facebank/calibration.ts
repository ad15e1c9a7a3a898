// The committed impostor-score calibrations (calibrations.json), one per embedder weights file, keyed by its
// sha256: the upper tail of the score of one face against one other person's template, measured by
// `npm run eval:openset -- --write-calibration` on the LFW dev split. A user has no dev split, so the
// operating point for a shipped model starts from this file.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { readManifest } from '../models/manifest.ts';
import { ImpostorTail } from './impostorTail.ts';

export const CALIBRATIONS_PATH = fileURLToPath(new URL('./calibrations.json', import.meta.url));

export const Calibration = z.object({
  embedder: z.string(),
  /** How it was measured, for people reading the file. */
  source: z.string(),
  samples: z.number().int().positive(),
  tail: z.array(z.object({ rate: z.number().positive().max(1), score: z.number() })).min(2),
});
export type Calibration = z.infer<typeof Calibration>;

const Calibrations = z.record(z.string(), Calibration);

function readAll(path: string): Record<string, Calibration> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  return Calibrations.parse(JSON.parse(text));
}

/** The impostor tail for the weights with this sha256, or undefined when the model was never calibrated. */
export function loadCalibration(sha256: string, path = CALIBRATIONS_PATH): ImpostorTail | undefined {
  const c = readAll(path)[sha256];
  return c === undefined ? undefined : new ImpostorTail(c.tail);
}

/** The calibration of a built embedder (by its name in the models manifest), if it has one. */
export function calibrationOf(embedder: string): ImpostorTail | undefined {
  const sha256 = readManifest()?.models[embedder]?.sha256;
  return sha256 === undefined ? undefined : loadCalibration(sha256);
}

export function saveCalibration(sha256: string, c: Calibration, path = CALIBRATIONS_PATH): void {
  const all = { ...readAll(path), [sha256]: Calibration.parse(c) };
  writeFileSync(path, `${JSON.stringify(all, null, 2)}\n`);
}
