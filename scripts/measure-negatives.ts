// `npx tsx scripts/measure-negatives.ts [--dir <lfw dev dir>] [--threshold 0.4]`: what "not this person" does on
// the LFW dev images, with the real Matcher and NegativeStore (facebank/negatives.ts) in an in-memory database.
// Gallery: identities with ≥ 3 images, first 2 enrolled; probes: their other images; strangers: identities with
// fewer. At `--threshold` (low on purpose, so strangers are named), every stranger image that is given a name is
// rejected ("not this person") in turn, as a user would on the events page; then it reports how often the
// stranger's *other* photos still get that name, and how many gallery probes lose their correct name.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Matcher, type Template, UNKNOWN } from '../facebank/matcher.ts';
import { NegativeStore, SAME_FACE_BOUND } from '../facebank/negatives.ts';
import { releaseFaceModels } from '../models/analyze.ts';
import { embedLfwImages, lfwImageRoot } from '../models/eval/lfw.ts';
import { loadFaceModels } from '../models/faceModels.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '../shared/testdata/lfw-dev' },
    threshold: { type: 'string', default: '0.4' },
  },
});
const threshold = Number(values.threshold);
const root = lfwImageRoot(resolve(values.dir));
const people = new Map<string, string[]>();
for (const name of (await readdir(root)).sort()) {
  const files = (await readdir(join(root, name))).filter((f) => f.endsWith('.jpg')).sort();
  people.set(
    name,
    files.map((f) => `${name}/${f}`),
  );
}
const models = await loadFaceModels({ provider: 'auto', intraOpThreads: 2 });
let embeddings: Map<string, { embedding: Float32Array | undefined }>;
try {
  embeddings = await embedLfwImages(models, root, [...people.values()].flat(), { flip: false });
} finally {
  await releaseFaceModels(models);
}
const emb = (p: string) => embeddings.get(p)?.embedding;

const templates: Template[] = [];
const probes: { person: string; e: Float32Array }[] = [];
const strangers = new Map<string, Float32Array[]>();
for (const [name, paths] of people) {
  const es = paths.map(emb).filter((e): e is Float32Array => e !== undefined);
  if (paths.length >= 3) {
    for (const e of es.slice(0, 2)) templates.push({ person: name, embedding: e });
    for (const e of es.slice(2)) probes.push({ person: name, e });
  } else strangers.set(name, es);
}
const matcher = new Matcher(templates);
const byPerson = new Map<string, Float32Array[]>();
for (const t of templates) byPerson.set(t.person, [...(byPerson.get(t.person) ?? []), t.embedding]);
const negatives = new NegativeStore(new Database(':memory:'), 'measure');
const without = (skip: Set<string>) => new Matcher(templates.filter((t) => !skip.has(t.person)));
// Facebank.match's loop, over the same Matcher and NegativeStore.
const match = (e: Float32Array) => {
  let m = matcher.match(e, threshold);
  const skip = new Set<string>();
  while (m.name !== UNKNOWN && m.candidate !== undefined) {
    if (negatives.veto(m.candidate, e, byPerson.get(m.candidate) ?? []) === undefined) break;
    skip.add(m.candidate);
    m = without(skip).match(e, threshold);
  }
  return m.name;
};

const correct = () => probes.filter((p) => match(p.e) === p.person).length;
const dirBefore = correct();
let rejected = 0;
let sameFaceAgain = 0;
let otherPhotos = 0;
let otherPhotosStillNamed = 0;
let otherPhotosNamedBefore = 0;
let namedStrangerImagesBefore = 0;
const strangerImages = [...strangers.values()].reduce((n, es) => n + es.length, 0);
for (const es of strangers.values()) for (const e of es) if (match(e) !== UNKNOWN) namedStrangerImagesBefore++;
let id = 0;
for (const es of strangers.values()) {
  const [first, ...rest] = es;
  if (first === undefined) continue;
  const named = match(first);
  if (named === UNKNOWN) continue;
  for (const e of rest) if (match(e) === named) otherPhotosNamedBefore++;
  negatives.add(named, first, { kind: 'event', eventId: ++id });
  rejected++;
  if (match(first) === named) sameFaceAgain++;
  for (const e of rest) {
    otherPhotos++;
    if (match(e) === named) otherPhotosStillNamed++;
  }
}
const dirAfter = correct();
const pc = (n: number, d: number) => `${n}/${d} (${((100 * n) / Math.max(1, d)).toFixed(1)}%)`;
process.stdout.write(
  `${[
    `gallery ${byPerson.size} people (${templates.length} templates), ${probes.length} probes, ${strangers.size} stranger identities (${strangerImages} images); threshold ${threshold}, SAME_FACE_BOUND ${SAME_FACE_BOUND}`,
    `stranger images named before any rejection: ${pc(namedStrangerImagesBefore, strangerImages)}`,
    `rejected ("not this person" on each stranger's first photo when named): ${rejected}`,
    `  the rejected photo itself still given that name: ${pc(sameFaceAgain, rejected)}`,
    `  the stranger's other photos given that name: before ${otherPhotosNamedBefore}, after ${pc(otherPhotosStillNamed, otherPhotos)}`,
    `gallery probes named correctly: before ${pc(dirBefore, probes.length)}, after all ${rejected} negatives ${pc(dirAfter, probes.length)}`,
  ].join('\n')}\n`,
);
