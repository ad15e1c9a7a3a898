// Grouping faces that are the same person: leader clustering on running centroids, then merging clusters whose
// centroids reach the bound. Order-dependent only at the margin; linear in faces × clusters, so a gallery of a
// thousand visits groups in milliseconds.

/** L2-normalised. */
export type Embedding = Float32Array;

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}

function normalized(sum: Float64Array): Float32Array {
  let n = 0;
  for (const v of sum) n += v * v;
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  return Float32Array.from(sum, (v) => v * inv);
}

interface Group {
  members: number[];
  sum: Float64Array;
  centroid: Float32Array;
}

function add(g: Group, e: Float32Array): void {
  for (let k = 0; k < e.length; k++) g.sum[k]! += e[k]!;
  g.centroid = normalized(g.sum);
}

/**
 * Groups of indices into `faces` (each index in exactly one group): a face joins the group whose centroid is most
 * similar to it if that similarity is at least `bound`, else starts a group; then groups whose centroids are at
 * least `bound` apart are merged until none are. Groups are in order of their first member.
 */
export function clusterFaces(faces: readonly Embedding[], bound: number): number[][] {
  let groups: Group[] = [];
  faces.forEach((e, i) => {
    let best: Group | undefined;
    let bestSim = Number.NEGATIVE_INFINITY;
    for (const g of groups) {
      const s = dot(g.centroid, e);
      if (s > bestSim) {
        bestSim = s;
        best = g;
      }
    }
    if (best !== undefined && bestSim >= bound) {
      best.members.push(i);
      add(best, e);
    } else {
      const g: Group = { members: [i], sum: new Float64Array(e.length), centroid: e };
      add(g, e);
      groups.push(g);
    }
  });
  for (let merged = true; merged; ) {
    merged = false;
    for (let a = 0; a < groups.length && !merged; a++) {
      for (let b = a + 1; b < groups.length; b++) {
        const ga = groups[a]!;
        const gb = groups[b]!;
        if (dot(ga.centroid, gb.centroid) < bound) continue;
        ga.members.push(...gb.members);
        for (let k = 0; k < ga.sum.length; k++) ga.sum[k]! += gb.sum[k]!;
        ga.centroid = normalized(ga.sum);
        groups = groups.filter((g) => g !== gb);
        merged = true;
        break;
      }
    }
  }
  return groups.map((g) => g.members.sort((x, y) => x - y)).sort((x, y) => x[0]! - y[0]!);
}

/** Members of a group ordered by similarity to its centroid, most typical first (the "best" face to show). */
export function byTypicality(faces: readonly Embedding[], members: readonly number[]): number[] {
  const sum = new Float64Array(faces[members[0]!]!.length);
  for (const i of members) for (let k = 0; k < sum.length; k++) sum[k]! += faces[i]![k]!;
  const c = normalized(sum);
  return [...members].sort((x, y) => dot(c, faces[y]!) - dot(c, faces[x]!));
}
