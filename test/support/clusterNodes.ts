// Cluster-mode server nodes (DATABASE_URL, and REDIS_URL for their dashboards), for the cluster test and
// benchmark: each a real server process with its own SQLite file (its outbox), one worker, no previews; and what
// the nodes say about the cameras they analyse.
import { join } from 'node:path';
import type { CameraHealth } from '../../streams/types.ts';
import { makeTestClip, writeEmptyImage } from './clips.ts';
import { type ServerLogLine, type ServerProcess, spawnServer } from './serverProcess.ts';
import { type Person, personImage } from './testdata.ts';

const PEOPLE: Person[] = ['amy', 'howard', 'penny', 'raj'];

/**
 * Makes the cameras' clip in `root`, returning its path (the nodes' facebank folders start empty: every face is
 * Unknown until someone is enrolled): small
 * frames at 4 fps. Each person is in view 2.5 s, then nobody for 2.5 s: every visit ends (the tracker's 10 s
 * cool-down passes before the same face returns, 20 s later), so events keep coming for the whole run.
 */
export async function prepareClusterRoot(root: string): Promise<string> {
  const empty = await writeEmptyImage(join(root, 'empty.png'));
  return makeTestClip(
    PEOPLE.flatMap((p) => [personImage(p, 1), empty]),
    join(root, 'people.mp4'),
    { fps: 4, secondsPerImage: 2.5, size: { width: 256, height: 192 } },
  );
}

export interface ClusterNodeOptions {
  name: string;
  /** Holds `<name>.db` (the node's SQLite file: the same name, the same outbox) and the facebank folders. */
  root: string;
  databaseUrl: string;
  redisUrl: string;
  onLine?: (line: ServerLogLine) => void;
}

export function spawnClusterNode(o: ClusterNodeOptions): { proc: ServerProcess; dbPath: string } {
  const dbPath = join(o.root, `${o.name}.db`);
  const proc = spawnServer({
    env: {
      DATABASE_URL: o.databaseUrl,
      REDIS_URL: o.redisUrl,
      NODE_NAME: o.name,
      DATABASE_PATH: dbPath,
      // A folder per node, as on separate machines: the people reach each one through PostgreSQL.
      FACEBANK_DIR: join(o.root, `facebank-${o.name}`),
      WATCH_FACEBANK: 'false',
      POOL_SIZE: '1',
      INTRA_OP_THREADS: '1',
      PREVIEW_FPS: '0',
      CAMERA_MOTION: 'false',
    },
    ...(o.onLine ? { onLine: o.onLine } : {}),
  });
  return { proc, dbPath };
}

/** Camera id → the nodes (of `among`) whose pipeline for it has analysed frames lately. */
export async function analysedOn(among: readonly { name: string; url: string }[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    among.map(async (n) => {
      const res = await fetch(`${n.url}/api/cameras`).catch(() => undefined);
      if (!res?.ok) return;
      for (const c of (await res.json()) as { id: string; health: CameraHealth }[]) {
        if (c.health.state !== 'stopped' && c.health.processedFps > 0)
          out.set(c.id, [...(out.get(c.id) ?? []), n.name]);
      }
    }),
  );
  return out;
}
