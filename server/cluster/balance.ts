// How many cameras each node should hold: as even as whole numbers allow (every node within one of the others),
// with the odd ones left where they already are, so that a node joining or leaving moves as few cameras as
// possible. Every node computes this from the same rows and acts on its own share only.

export interface NodeLoad {
  name: string;
  /** Enabled cameras it holds now. */
  held: number;
}

/** The number of cameras `me` should hold, of `total`, among the live `nodes` (which include `me`). */
export function fairShare(me: string, nodes: readonly NodeLoad[], total: number): number {
  if (nodes.length === 0) return total;
  const base = Math.floor(total / nodes.length);
  const extra = total % nodes.length;
  // The `extra` nodes holding the most keep one more than the rest (ties broken by name, the same on every node).
  const ranked = [...nodes].sort((a, b) => b.held - a.held || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rank = ranked.findIndex((n) => n.name === me);
  if (rank < 0) return 0;
  return base + (rank < extra ? 1 : 0);
}
