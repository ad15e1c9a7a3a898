// `npx tsx scripts/measure-same-face.ts [--dir <lfw dev dir>] [--pairs <file>]`: the figures behind
// SAME_FACE_BOUND (facebank/negatives.ts). A negative example vetoes a name for faces whose cosine with it is at
// or above the bound, so the bound should be reached by most other photos of the same face ("same" pairs) and by
// almost no photo of anybody else ("different" pairs), above all not by the look-alikes that a matcher confuses
// (different pairs that already score at or above a match threshold). Embeds as the server does (no flip).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { releaseFaceModels } from '../models/analyze.ts';
import { embedLfwImages, lfwImageRoot, scorePairs } from '../models/eval/lfw.ts';
import { lfwImagePath, parsePairs } from '../models/eval/verification.ts';
import { loadFaceModels } from '../models/faceModels.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/testdata/lfw-dev' },
    pairs: { type: 'string', default: 'pairsDevTrain.txt' },
  },
});
const dir = resolve(values.dir);
const pairs = parsePairs(await readFile(resolve(dir, values.pairs), 'utf8'));
const models = await loadFaceModels({ provider: 'auto', intraOpThreads: 2 });
try {
  const paths = pairs.flatMap((p) => [lfwImagePath(p.a.name, p.a.index), lfwImagePath(p.b.name, p.b.index)]);
  const embeddings = await embedLfwImages(models, lfwImageRoot(dir), paths, { flip: false });
  const { scores, same } = scorePairs(pairs, embeddings);
  const sameScores: number[] = [];
  const diffScores: number[] = [];
  scores.forEach((s, i) => {
    if (s === -1) return; // a faceless image: neither side says anything about the bound
    (same[i] ? sameScores : diffScores).push(s);
  });
  sameScores.sort((a, b) => a - b);
  diffScores.sort((a, b) => a - b);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
  const at = (xs: number[], t: number) => xs.filter((x) => x >= t).length;
  const f = (x: number) => x.toFixed(3);
  const out: string[] = [];
  out.push(`${values.pairs}: ${sameScores.length} same pairs, ${diffScores.length} different pairs (flip off)`);
  out.push('quantile     same    different');
  for (const p of [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) {
    out.push(`  ${String(p).padEnd(9)}  ${f(q(sameScores, p))}   ${f(q(diffScores, p))}`);
  }
  out.push(`  max        ${f(sameScores.at(-1)!)}   ${f(diffScores.at(-1)!)}`);
  out.push('');
  out.push('bound  same ≥ bound (veto reaches)  different ≥ bound (collateral)  of the look-alikes ≥ 0.4 / ≥ 0.5');
  const hard4 = diffScores.filter((s) => s >= 0.4);
  const hard5 = diffScores.filter((s) => s >= 0.5);
  for (const t of [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]) {
    const pc = (n: number, d: number) => `${n}/${d} (${((100 * n) / Math.max(1, d)).toFixed(1)}%)`;
    out.push(
      `  ${t.toFixed(2)}  ${pc(at(sameScores, t), sameScores.length).padEnd(28)}  ${pc(at(diffScores, t), diffScores.length).padEnd(30)}  ${at(hard4, t)}/${hard4.length}, ${at(hard5, t)}/${hard5.length}`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  await releaseFaceModels(models);
}
