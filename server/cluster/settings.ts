// The settings of cluster mode (several nodes on one PostgreSQL database), as config.ts takes them: each default
// and limit is written here once, and the README's tables are rendered from them.
import { hostname } from 'node:os';
import { decimal, optionalText, optionalUrl } from '../configFields.ts';

export const clusterSettings = {
  databaseUrl: optionalUrl({
    schemes: ['postgres', 'postgresql'],
    shownDefault: 'none (one node)',
    description:
      'PostgreSQL database shared by the nodes: cluster mode is on when set (cameras, events, and the photos and negative examples of the people live there; see Running several nodes)',
  }),
  nodeName: optionalText({
    minLength: 1,
    shownDefault: 'host name and process id',
    description:
      "how this node is named in the database (unique among the running nodes: a second process under a running node's name is refused)",
  }),
  leaseSeconds: decimal({
    default: 4,
    min: 1,
    max: 600,
    description:
      "a node's hold on its cameras lasts this long without renewal: a dead node's cameras move after about this long (shorter: faster failover, but a node paused longer loses its cameras)",
  }),
};

/** The node's name in the database when the config gives none: unique per process on a host. */
export function defaultNodeName(): string {
  return `${hostname()}-${process.pid}`;
}
