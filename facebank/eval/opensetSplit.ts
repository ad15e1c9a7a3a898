// The open-set protocol on a folder of <Name>/<Name>_NNNN.jpg: identities with at least MIN_IMAGES images form
// the gallery (their first ENROLLED images enrolled, the rest probes); every image of the other identities is a
// stranger. Smaller galleries are seeded samples of the full one, and the images of gallery identities left out
// of a sample count as strangers too (they are people the facebank does not know).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Identities with at least this many images are enrolled. */
export const MIN_IMAGES = 3;
/** Images enrolled per gallery identity (the first ones by file name). */
export const ENROLLED = 2;

export interface Identity {
  name: string;
  /** Relative paths `<Name>/<file>`, sorted. */
  images: string[];
}

export interface OpenSetSplit {
  /** Enrolled identities, sorted by name. */
  gallery: Identity[];
  /** Identities never enrolled at any gallery size. */
  others: Identity[];
}

const isImage = (f: string) => /\.(jpe?g|png|webp)$/i.test(f);

export function readIdentities(root: string): Identity[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
    .map((name) => ({
      name,
      images: readdirSync(join(root, name))
        .filter(isImage)
        .sort()
        .map((f) => `${name}/${f}`),
    }))
    .filter((i) => i.images.length > 0);
}

export function splitIdentities(identities: readonly Identity[]): OpenSetSplit {
  return {
    gallery: identities.filter((i) => i.images.length >= MIN_IMAGES),
    others: identities.filter((i) => i.images.length < MIN_IMAGES),
  };
}

/** mulberry32: a small, well-mixed 32-bit PRNG, so a seed gives the same sample on every platform. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` identities of the gallery drawn without replacement (Fisher-Yates with the seeded PRNG), sorted. */
export function sampleGallery(gallery: readonly Identity[], size: number, seed: number): Identity[] {
  if (size >= gallery.length) return [...gallery];
  const order = [...gallery];
  const rnd = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, size).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface Trial {
  enrolled: Identity[];
  /** Paths enrolled, by identity name. */
  enrolment: Map<string, string[]>;
  probes: { path: string; identity: string }[];
  strangers: string[];
}

/** One gallery size: who is enrolled with which images, the probes, and the strangers. */
export function trial(split: OpenSetSplit, enrolled: readonly Identity[]): Trial {
  const inGallery = new Set(enrolled.map((i) => i.name));
  const enrolment = new Map(enrolled.map((i) => [i.name, i.images.slice(0, ENROLLED)]));
  const probes = enrolled.flatMap((i) => i.images.slice(ENROLLED).map((path) => ({ path, identity: i.name })));
  const strangers = [
    ...split.gallery.filter((i) => !inGallery.has(i.name)).flatMap((i) => i.images),
    ...split.others.flatMap((i) => i.images),
  ];
  return { enrolled: [...enrolled], enrolment, probes, strangers };
}
