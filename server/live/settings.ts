// The live layer's settings, as config.ts takes them: each default and limit is written here once, and the
// README's tables are rendered from them.
import { optionalUrl } from '../configFields.ts';

export const liveSettings = {
  redisUrl: optionalUrl({
    schemes: ['redis', 'rediss'],
    shownDefault: 'none (one node)',
    description:
      "Redis 7 that carries live detections, previews and events between nodes (Socket.IO's sharded Redis adapter): a dashboard on any node watches every node's cameras",
  }),
};
