// Cluster mode on the cameras page: the nodes the shared database knows (alive or not, their last heartbeat, the
// cameras each holds), and which node this page is served by. Nothing is shown on a single node.
import type { CameraLease, ClusterHealth } from '../wire.ts';

export function ClusterPanel({ cluster }: { cluster: ClusterHealth }) {
  return (
    <section class="panel cluster">
      <h2>Nodes</h2>
      {!cluster.reachable && (
        <p class="error" role="alert">
          The shared database does not answer: {cluster.error}
        </p>
      )}
      <ul class="cluster-nodes">
        {cluster.nodes.map((n) => (
          <li key={n.name} class="cluster-node" data-node={n.name}>
            <span class={`badge ${n.alive ? 'live' : 'error'}`}>{n.alive ? 'alive' : 'silent'}</span> {n.name}
            {n.name === cluster.node && <span class="muted"> (this node)</span>} · {n.cameras} cameras · heartbeat{' '}
            {(n.heartbeatAgeMs / 1000).toFixed(1)} s ago
          </li>
        ))}
      </ul>
    </section>
  );
}

const LEASE: Record<CameraLease['lease'], string> = {
  held: 'on',
  expired: 'lease expired on',
  free: 'waiting for a node',
  disabled: 'disabled',
};

/** Which node analyses the camera, under which lease epoch. */
export function CameraOwner({ lease }: { lease: CameraLease }) {
  return (
    <p class="muted small camera-owner" data-owner={lease.owner ?? ''}>
      {LEASE[lease.lease]}
      {lease.owner && lease.lease !== 'free' && ` ${lease.owner}`} · epoch {lease.epoch}
    </p>
  );
}
