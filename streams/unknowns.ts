// The unknown-faces gallery: recent visits by nobody the facebank knows (Unknown person_appeared events with a
// crop), grouped so that one stranger who came back ten times is one card, not ten.
import { UNKNOWN } from '../facebank/index.ts';
import type { EventFaces } from './eventFaces.ts';
import type { EventReader, StoredEvent } from './events.ts';
import { byTypicality, clusterFaces } from './faceClusters.ts';

export interface UnknownCluster {
  /** The cluster's events, most typical face first (the first is the card's picture). */
  events: StoredEvent[];
  /** Epoch ms of the first and the last visit. */
  first: number;
  last: number;
}

export interface UnknownGalleryOptions {
  /** The newest this many visits are grouped. */
  limit: number;
  /** Cosine at or above which two faces are taken to be one person (SAME_FACE_BOUND). */
  bound: number;
}

/** Events listed per query while collecting visits (most events of a busy camera are person_left). */
const PAGE = 500;
/** Crops embedded at once on the first look at a gallery (the pool queues the rest of its work behind them). */
const EMBED_CONCURRENCY = 4;

/** The newest `limit` Unknown visits that have a crop, newest first (every node's, in cluster mode). */
export async function recentUnknownVisits(events: Pick<EventReader, 'list'>, limit: number): Promise<StoredEvent[]> {
  const found: StoredEvent[] = [];
  let before: number | undefined;
  while (found.length < limit) {
    const page = await events.list({ name: UNKNOWN, limit: PAGE, ...(before !== undefined ? { before } : {}) });
    for (const e of page) if (e.type === 'person_appeared' && e.hasCrop && found.length < limit) found.push(e);
    if (page.length < PAGE) break;
    before = page.at(-1)!.id;
  }
  return found;
}

/** Clusters of the newest Unknown visits, the most recently seen stranger first. */
export async function unknownClusters(
  events: Pick<EventReader, 'list'>,
  faces: EventFaces,
  o: UnknownGalleryOptions,
): Promise<UnknownCluster[]> {
  await faces.prune();
  const visits = (await recentUnknownVisits(events, o.limit)).reverse(); // oldest first: a stranger's first visit leads
  const embeddings = new Array<Float32Array | undefined>(visits.length);
  let next = 0;
  const lane = async () => {
    while (next < visits.length) {
      const i = next++;
      embeddings[i] = await faces.embedding(visits[i]!.id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(EMBED_CONCURRENCY, visits.length) }, lane));
  const kept = visits.flatMap((v, i) => (embeddings[i] ? [{ visit: v, embedding: embeddings[i]! }] : []));
  const vectors = kept.map((k) => k.embedding);
  return clusterFaces(vectors, o.bound)
    .map((members) => {
      const ordered = byTypicality(vectors, members).map((i) => kept[i]!.visit);
      const times = ordered.map((e) => e.at);
      return { events: ordered, first: Math.min(...times), last: Math.max(...times) };
    })
    .sort((a, b) => b.last - a.last);
}
