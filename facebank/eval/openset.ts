// The open-set evaluation (`npm run eval:openset`): enrol a gallery through the real Facebank (a scratch
// folder, the real worker pool, the SQLite cache), then name every probe and every stranger with
// Facebank.match, at several gallery sizes. Also measures the impostor tail the operating point's
// calibration is made of.
import { join } from 'node:path';
import { assessQuality, type QualityMeasures } from '../../models/quality.ts';
import type { Calibration } from '../calibration.ts';
import { Facebank, type FacebankOptions } from '../facebank.ts';
import { ImpostorTail as Tail } from '../impostorTail.ts';
import { UNKNOWN } from '../matcher.ts';
import type { OperatingPoint } from '../operatingPoint.ts';
import { writeGalleryFolder } from './galleryFolder.ts';
import { type ProbeOutcome, type Rates, ratesAt, ratesAtFpir } from './opensetMetrics.ts';
import { ENROLLED, type OpenSetSplit, sampleGallery, trial } from './opensetSplit.ts';

/** The facebank settings every gallery is opened with (its folder and the rest are the evaluation's). */
export type OpenSetBank = Pick<
  FacebankOptions,
  'db' | 'analyzer' | 'modelId' | 'fpir' | 'threshold' | 'calibration' | 'maxPixels' | 'flip' | 'minQuality'
>;

export interface OpenSetSize {
  /** Asked for; `people` is what it gave (the whole gallery at most). */
  size: number;
  people: number;
  enrolledImages: number;
  templates: number;
  probes: number;
  strangers: number;
  /** Probes and strangers with no face found (never named). */
  noFace: number;
  /** Probes and strangers whose face is judged poor (answered Unknown, never named). */
  poor: number;
  operatingPoint: OperatingPoint;
  /** At the operating point: a probe counts when named as itself, a stranger when given any name. */
  atOperatingPoint: Rates;
  /** With the threshold that the strangers themselves would set (an oracle, for the curve). */
  atFpir1: Rates;
  atFpir01: Rates;
  /** Best candidate correct, whatever the score. */
  rank1: number;
}

export interface OpenSetRun {
  split: OpenSetSplit;
  /** The dataset's images; the split's paths are relative to it. */
  root: string;
  embeddings: ReadonlyMap<string, Float32Array | undefined>;
  /**
   * The faces' quality measures, judged at the bank's minQuality as the recognition routes do: a poor face is
   * answered Unknown whatever its score (facebank/qualityGate.ts), so it is never named here either.
   */
  quality?: { measures: ReadonlyMap<string, QualityMeasures | undefined> };
  bank: OpenSetBank;
  /** Facebank folders are made here, one per size. */
  scratchDir: string;
  sizes: readonly number[];
  seed: number;
  onStage?: (message: string) => void;
}

export async function evaluateOpenSet(run: OpenSetRun): Promise<OpenSetSize[]> {
  const out: OpenSetSize[] = [];
  for (const size of run.sizes) {
    const t = trial(run.split, sampleGallery(run.split.gallery, size, run.seed));
    const people = t.enrolled.length;
    const dir = join(run.scratchDir, `gallery-${people}`);
    run.onStage?.(`gallery of ${people}: enrolling ${people * ENROLLED} images through the facebank`);
    await writeGalleryFolder(dir, run.root, t.enrolment);
    const fb = await Facebank.open({
      ...run.bank,
      dir,
      concurrency: 4,
      watch: false,
    });
    try {
      let noFace = 0;
      let poor = 0;
      const poorFace = (path: string) => {
        const m = run.quality?.measures.get(path);
        return m !== undefined && assessQuality(m, run.bank.minQuality).verdict === 'poor';
      };
      const answer = (path: string) => {
        const e = run.embeddings.get(path);
        if (e === undefined) {
          noFace++;
          return undefined;
        }
        return fb.match(e);
      };
      // A poor face is never named, so for the rates its score is below any threshold.
      const scoreOf = (path: string, score: number | undefined) => {
        if (score !== undefined && poorFace(path)) {
          poor++;
          return Number.NEGATIVE_INFINITY;
        }
        return score ?? Number.NEGATIVE_INFINITY;
      };
      let rank1 = 0;
      let namedRight = 0;
      const probes: ProbeOutcome[] = t.probes.map((p) => {
        const m = answer(p.path);
        const correct = m?.candidate === p.identity;
        if (correct) rank1++;
        if (correct && m?.name === p.identity && !poorFace(p.path)) namedRight++;
        return { correct, score: scoreOf(p.path, m?.score) };
      });
      let falseNames = 0;
      const strangers = t.strangers.map((path) => {
        const m = answer(path);
        if (m !== undefined && m.name !== UNKNOWN && !poorFace(path)) falseNames++;
        return scoreOf(path, m?.score);
      });
      const op = fb.operatingPoint;
      const at = ratesAt(probes, strangers, op.threshold);
      // The facebank's own answers, not the scores against its threshold: they must agree.
      if (at.named !== namedRight || at.falseNames !== falseNames) {
        throw new Error(`the facebank's names disagree with its threshold ${op.threshold} at ${people} people`);
      }
      const stats = fb.stats();
      out.push({
        size,
        people,
        enrolledImages: stats.images,
        templates: stats.templates,
        probes: probes.length,
        strangers: strangers.length,
        noFace,
        poor,
        operatingPoint: op,
        atOperatingPoint: at,
        atFpir1: ratesAtFpir(probes, strangers, 0.01),
        atFpir01: ratesAtFpir(probes, strangers, 0.001),
        rank1: probes.length ? rank1 / probes.length : 0,
      });
    } finally {
      await fb.close();
    }
  }
  return out;
}

/** The L2-normalised (weighted) mean of embeddings: a person's template as the Matcher builds it (unweighted). */
export function normalisedMean(vs: readonly Float32Array[], weights?: readonly number[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  vs.forEach((v, i) => {
    const w = weights?.[i] ?? 1;
    for (let k = 0; k < v.length; k++) out[k]! += w * v[k]!;
  });
  let n = 0;
  for (let k = 0; k < out.length; k++) n += out[k]! * out[k]!;
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let k = 0; k < out.length; k++) out[k]! *= inv;
  return out;
}

/**
 * The model's impostor tail on the split: every image of the gallery identities against the template (as the
 * Matcher builds it: the normalised mean of the first ENROLLED images) of every other gallery identity. The
 * other identities are left out: they are the strangers the evaluation judges FPIR on, and a calibration that
 * had seen them would predict their rate too well.
 */
export function measureImpostorTail(
  split: OpenSetSplit,
  embeddings: ReadonlyMap<string, Float32Array | undefined>,
  embedder: string,
): Calibration {
  const templates = split.gallery.flatMap((id) => {
    const es = id.images.slice(0, ENROLLED).flatMap((p) => embeddings.get(p) ?? []);
    return es.length ? [{ name: id.name, t: normalisedMean(es) }] : [];
  });
  const scores: number[] = [];
  for (const id of split.gallery) {
    for (const path of id.images) {
      const e = embeddings.get(path);
      if (e === undefined) continue;
      for (const { name, t } of templates) {
        if (name === id.name) continue;
        let s = 0;
        for (let k = 0; k < e.length; k++) s += e[k]! * t[k]!;
        scores.push(s);
      }
    }
  }
  const tail = Tail.fromScores(scores, 20, 8);
  return {
    embedder,
    source:
      `LFW dev split (lfw-dev/images): ${scores.length} scores of every image of the ${templates.length} ` +
      `identities with 3 or more images against the template (normalised mean of the first ${ENROLLED} images) ` +
      "of each of the others; the other identities (the evaluation's strangers) are left out; POST /rec " +
      'analysis, central face, no flip',
    samples: scores.length,
    tail: tail.points.map((p) => ({ rate: Number(p.rate.toPrecision(4)), score: Number(p.score.toFixed(5)) })),
  };
}
