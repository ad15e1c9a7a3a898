// `npx tsx scripts/measure-scores.ts`: open-set decision scores other than the raw best cosine, compared at
// equal rates of false names on the LFW dev split (the eval:openset protocol and its cached embeddings). See --help.
import { normalisedMean } from '../facebank/eval/openset.ts';
import { type ProbeOutcome, ratesAtFpir } from '../facebank/eval/opensetMetrics.ts';
import { type Identity, sampleGallery, trial } from '../facebank/eval/opensetSplit.ts';
import { dotAt } from '../facebank/matcher.ts';
import { assessQuality } from '../models/quality.ts';
import { numberListArg } from './args.ts';
import { gallerySizes, loadOpenSetProbes, parseOpenSetCli, scriptConfig } from './opensetProbes.ts';

const Z_TOP = 200;

const HELP = `Usage: npx tsx scripts/measure-scores.ts [options]

Open-set decision scores compared at equal FPIR on the LFW dev split, with the protocol and the cached
embeddings of \`npm run eval:openset\` (the first run embeds every image, a few minutes). For each gallery
(size × seed) it prints, per score variant, DIR at FPIR 1% and 0.1% (--fpirs) with the threshold the
strangers themselves set (an oracle: the best each score can do at that rate), and the probes it names more
or fewer than the raw best cosine. Templates are built from the probe cache's embeddings of the enrolled images (poor faces left out,
as the facebank does); poor probes and strangers are never named (MIN_FACE_QUALITY).

Variants:
  raw              best cosine against per-person mean templates (the product)
  margin+a         best + a·(best − second best)
  gate m           best, but only when best − second best ≥ m
  T-norm own       (s − μ_p)/σ_p, μ_p, σ_p from person p's template against the other enrolled people's images
  T-norm cohort    the same against a cohort of faces that are not enrolled
  Z-norm cohort    (s − μ_q)/σ_q, from the face's own scores against the cohort
  Z-norm top${Z_TOP}    the same from its ${Z_TOP} highest cohort scores (adaptive)
  S-norm cohort    the mean of the Z and T normalised scores
  Z-norm gallery   the face's scores against the other enrolled people as its cohort
  best-of          the best of the person's images instead of their mean
  quality^k        mean template weighted by each image's quality score to the power k

The cohort is never made of the faces being judged: the identities with too few images to be enrolled are
split in two by name order; a face of one half (and the gallery identities, split the same way) is normalised
with the other half. Every image of them is still judged as a stranger.

  --dir <path>      the images, <dir>/<Name>/<Name>_NNNN.jpg (default ../shared/testdata/lfw-dev/images)
  --sizes <list>    gallery sizes, comma-separated, "all" for the whole gallery (default 10,100,all)
  --seeds <list>    seeds for the galleries smaller than the whole (default 1,2,3)
  --fpirs <list>    the rates of false names compared at (default 0.01,0.001)
  --scratch <path>  working directory, shared with eval:openset (default .scratch/openset)
  --json            print the results as JSON
  -h, --help        this text
`;

const parseCli = () =>
  parseOpenSetCli('measure-scores', HELP, {
    seeds: { type: 'string', default: '1,2,3' },
    fpirs: { type: 'string', default: '0.01,0.001' },
  });

interface Stats {
  mu: number;
  sd: number;
}

function stats(xs: ArrayLike<number>): Stats {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  const mu = s / xs.length;
  let v = 0;
  for (let i = 0; i < xs.length; i++) v += (xs[i]! - mu) ** 2;
  return { mu, sd: Math.sqrt(v / Math.max(1, xs.length - 1)) || 1 };
}

/** Rows of one matrix (row-major, `dim` wide) against one vector. */
function scoresAgainst(rows: Float32Array, dim: number, e: Float32Array): Float64Array {
  const n = rows.length / dim;
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) out[r] = dotAt(rows, r * dim, e, 0, dim);
  return out;
}

function stack(vs: readonly Float32Array[], dim: number): Float32Array {
  const out = new Float32Array(vs.length * dim);
  vs.forEach((v, i) => {
    out.set(v, i * dim);
  });
  return out;
}

/** Index of the highest and the two highest values of f(i). */
function top2(n: number, f: (i: number) => number): { i: number; best: number; next: number } {
  let i = -1;
  let best = Number.NEGATIVE_INFINITY;
  let next = Number.NEGATIVE_INFINITY;
  for (let p = 0; p < n; p++) {
    const s = f(p);
    if (s > best) {
      next = best;
      best = s;
      i = p;
    } else if (s > next) next = s;
  }
  return { i, best, next };
}

/** What a variant sees of one face in one gallery. */
interface Scored {
  people: number;
  /** Against the mean templates, the quality-weighted ones and the best of each person's images. */
  mean: Float64Array;
  weighted: Map<number, Float64Array>;
  bestOf: Float64Array;
  /** The face against the cohort half it does not belong to: all scores, and the top ones. */
  z: Stats;
  zTop: Stats;
  /** Per person: their template against the other enrolled people's images, and against that cohort half. */
  tOwn: readonly Stats[];
  tCohort: readonly Stats[];
}

interface Decision {
  candidate: number;
  score: number;
}

interface Variant {
  name: string;
  decide: (s: Scored) => Decision;
}

const argmaxOf = (n: number, f: (i: number) => number): Decision => {
  const t = top2(n, f);
  return { candidate: t.i, score: t.best };
};

const QUALITY_POWERS = [1, 4] as const;

const VARIANTS: Variant[] = [
  { name: 'raw', decide: (s) => argmaxOf(s.people, (p) => s.mean[p]!) },
  ...[0.25, 0.5, 1, 2].map(
    (a): Variant => ({
      name: `margin+${a}`,
      decide: (s) => {
        const t = top2(s.people, (p) => s.mean[p]!);
        return { candidate: t.i, score: t.best + a * (t.best - (Number.isFinite(t.next) ? t.next : t.best)) };
      },
    }),
  ),
  ...[0.02, 0.05, 0.1].map(
    (m): Variant => ({
      name: `gate ${m}`,
      decide: (s) => {
        const t = top2(s.people, (p) => s.mean[p]!);
        return { candidate: t.i, score: t.best - t.next >= m ? t.best : Number.NEGATIVE_INFINITY };
      },
    }),
  ),
  { name: 'T-norm own', decide: (s) => argmaxOf(s.people, (p) => (s.mean[p]! - s.tOwn[p]!.mu) / s.tOwn[p]!.sd) },
  {
    name: 'T-norm cohort',
    decide: (s) => argmaxOf(s.people, (p) => (s.mean[p]! - s.tCohort[p]!.mu) / s.tCohort[p]!.sd),
  },
  {
    name: 'Z-norm cohort',
    decide: (s) => {
      const d = argmaxOf(s.people, (p) => s.mean[p]!);
      return { candidate: d.candidate, score: (d.score - s.z.mu) / s.z.sd };
    },
  },
  {
    name: `Z-norm top${Z_TOP}`,
    decide: (s) => {
      const d = argmaxOf(s.people, (p) => s.mean[p]!);
      return { candidate: d.candidate, score: (d.score - s.zTop.mu) / s.zTop.sd };
    },
  },
  {
    name: 'S-norm cohort',
    decide: (s) =>
      argmaxOf(
        s.people,
        (p) => 0.5 * ((s.mean[p]! - s.z.mu) / s.z.sd + (s.mean[p]! - s.tCohort[p]!.mu) / s.tCohort[p]!.sd),
      ),
  },
  {
    name: 'Z-norm gallery',
    decide: (s) => {
      const d = argmaxOf(s.people, (p) => s.mean[p]!);
      const others = s.mean.filter((_, p) => p !== d.candidate);
      if (others.length < 2) return d;
      const z = stats(others);
      return { candidate: d.candidate, score: (d.score - z.mu) / z.sd };
    },
  },
  { name: 'best-of', decide: (s) => argmaxOf(s.people, (p) => s.bestOf[p]!) },
  ...QUALITY_POWERS.map(
    (k): Variant => ({
      name: `quality^${k}`,
      decide: (s) => argmaxOf(s.people, (p) => s.weighted.get(k)![p]!),
    }),
  ),
];

interface VariantResult {
  variant: string;
  /** Probes named as themselves with the strangers' own threshold, one per FPIR asked. */
  named: number[];
}

interface GalleryResult {
  people: number;
  seed: number | undefined;
  probes: number;
  strangers: number;
  fpirs: number[];
  variants: VariantResult[];
}

async function main(): Promise<void> {
  const v = parseCli();
  const config = scriptConfig();
  const asked = gallerySizes(v.sizes);
  const fpirs = numberListArg('fpirs', v.fpirs);
  const seeds = numberListArg('seeds', v.seeds, { integer: true, allowZero: true });
  const started = performance.now();
  const loaded = await loadOpenSetProbes({ dir: v.dir, scratch: v.scratch, config });
  await loaded.pool.close();
  const { split, faces } = loaded;
  const usable = (path: string) => {
    const f = faces.get(path);
    return f !== undefined && assessQuality(f.quality, config.minFaceQuality).verdict === 'ok' ? f : undefined;
  };
  const dim = [...faces.values()].find((f) => f !== undefined)?.embedding.length ?? 0;

  // The cohort halves: identities too few to enrol, alternately by name; the gallery identities alike.
  const foldOf = new Map([
    ...split.others.map((id, i) => [id.name, i % 2] as const),
    ...split.gallery.map((id, i) => [id.name, i % 2] as const),
  ]);
  const identityOf = (path: string) => path.slice(0, path.indexOf('/'));
  const cohort = [0, 1].map((f) =>
    stack(
      split.others
        .filter((id) => foldOf.get(id.name) === f)
        .flatMap((id) => id.images.flatMap((p) => usable(p)?.embedding ?? [])),
      dim,
    ),
  );
  // Z statistics depend only on the face and the cohort half it is normalised with: once for every image.
  const zOf = new Map<string, { z: Stats; zTop: Stats }>();
  for (const id of [...split.gallery, ...split.others]) {
    const other = cohort[1 - foldOf.get(id.name)!]!;
    for (const path of id.images) {
      const f = usable(path);
      if (f === undefined) continue;
      const s = scoresAgainst(other, dim, f.embedding);
      const sorted = Float64Array.from(s).sort().reverse();
      zOf.set(path, { z: stats(s), zTop: stats(sorted.subarray(0, Z_TOP)) });
    }
  }
  console.error(`cohort halves of ${cohort.map((c) => c.length / dim).join(' and ')} faces`);

  const galleries: { size: number; seed: number | undefined; enrolled: Identity[] }[] = [];
  for (const a of asked) {
    const size = a === 'all' ? split.gallery.length : a;
    if (size >= split.gallery.length) galleries.push({ size, seed: undefined, enrolled: split.gallery });
    else for (const seed of seeds) galleries.push({ size, seed, enrolled: sampleGallery(split.gallery, size, seed) });
  }

  const results: GalleryResult[] = [];
  for (const g of galleries) {
    const t = trial(split, g.enrolled);
    // People with at least one usable enrolled face, as the facebank enrols them.
    const people = [...t.enrolment].flatMap(([name, paths]) => {
      const fs = paths.flatMap((p) => usable(p) ?? []);
      return fs.length ? [{ name, fs }] : [];
    });
    const n = people.length;
    const means = stack(
      people.map((p) => normalisedMean(p.fs.map((f) => f.embedding))),
      dim,
    );
    const weighted = new Map(
      QUALITY_POWERS.map((k) => [
        k,
        stack(
          people.map((p) =>
            normalisedMean(
              p.fs.map((f) => f.embedding),
              p.fs.map((f) => assessQuality(f.quality).score ** k),
            ),
          ),
          dim,
        ),
      ]),
    );
    const images = people.flatMap((p, i) => p.fs.map((f) => ({ owner: i, e: f.embedding })));
    const imageRows = stack(
      images.map((x) => x.e),
      dim,
    );
    const tOwn = people.map((_, p) => {
      const t0 = p * dim;
      const s = images.filter((x) => x.owner !== p).map((x) => dotAt(means, t0, x.e, 0, dim));
      return s.length >= 2 ? stats(s) : { mu: 0, sd: 1 };
    });
    const tCohort = [0, 1].map((f) =>
      people.map((_, p) => stats(scoresAgainst(cohort[f]!, dim, means.subarray(p * dim, (p + 1) * dim)))),
    );
    const score = (path: string): Scored | undefined => {
      const f = usable(path);
      if (f === undefined) return undefined;
      const byImage = scoresAgainst(imageRows, dim, f.embedding);
      const bestOf = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
      images.forEach((x, r) => {
        if (byImage[r]! > bestOf[x.owner]!) bestOf[x.owner] = byImage[r]!;
      });
      return {
        people: n,
        mean: scoresAgainst(means, dim, f.embedding),
        weighted: new Map([...weighted].map(([k, m]) => [k, scoresAgainst(m, dim, f.embedding)])),
        bestOf,
        ...zOf.get(path)!,
        tOwn,
        tCohort: tCohort[1 - foldOf.get(identityOf(path))!]!,
      };
    };
    const probes = t.probes.map((p) => ({ identity: p.identity, s: score(p.path) }));
    const strangers = t.strangers.map(score);
    const variants = VARIANTS.map((variant): VariantResult => {
      const outcomes: ProbeOutcome[] = probes.map((p) => {
        if (p.s === undefined) return { correct: false, score: Number.NEGATIVE_INFINITY };
        const d = variant.decide(p.s);
        return { correct: people[d.candidate]?.name === p.identity, score: d.score };
      });
      const judged = strangers.map((s) => (s === undefined ? Number.NEGATIVE_INFINITY : variant.decide(s).score));
      return { variant: variant.name, named: fpirs.map((f) => ratesAtFpir(outcomes, judged, f).named) };
    });
    results.push({ people: n, seed: g.seed, probes: probes.length, strangers: strangers.length, fpirs, variants });
    console.error(`gallery of ${n}${g.seed === undefined ? '' : ` (seed ${g.seed})`} done`);
  }

  if (v.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const label = (r: GalleryResult) => `${r.people}${r.seed === undefined ? '' : ` s${r.seed}`}`;
  const table = (fi: number, title: string) => {
    const head = ['variant', ...results.map(label), 'Σ Δ'];
    const body = VARIANTS.map((variant, vi) => {
      let sum = 0;
      const cells = results.map((r) => {
        const x = r.variants[vi]!.named[fi]!;
        const d = x - r.variants[0]!.named[fi]!;
        sum += d;
        const pct = `${((100 * x) / Math.max(1, r.probes)).toFixed(2)}%`;
        return vi === 0 ? pct : `${pct} ${d >= 0 ? '+' : ''}${d}`;
      });
      return [variant.name, ...cells, vi === 0 ? '' : `${sum >= 0 ? '+' : ''}${sum}`];
    });
    const probesRow = ['(probes / strangers)', ...results.map((r) => `${r.probes} / ${r.strangers}`), ''];
    const rows = [probesRow, ...body];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((b) => b[i]!.length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    return [title, line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
  };
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(
    [
      `Decision scores at equal FPIR — ${loaded.modelId}, ${loaded.images} images; columns: people and seed; cells: DIR ` +
        'with the strangers’ own threshold, and probes named more (+) or fewer (−) than raw',
      '',
      ...fpirs.flatMap((f, fi) => [table(fi, `DIR at FPIR ${Number((f * 100).toPrecision(3))}%`), '']),
      `  ${seconds.toFixed(1)} s`,
      '',
    ].join('\n'),
  );
}

await main();
