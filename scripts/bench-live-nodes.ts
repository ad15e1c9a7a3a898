// `npm run bench:live-nodes`: what crossing nodes costs a dashboard (REDIS_URL). A Redis and two server processes:
// node B analyses a file camera showing Penny; one client on B (local) and one on node A (across Redis) watch it at
// once, so each frame's detections and preview reach both in the same run, on the same clock. Prints the latency
// from the frame's capture to each client, p50/p95, and the extra for crossing nodes (A − B per frame); then
// restarts Redis a few times (how long until A's client gets the camera again) and hangs it (SIGSTOP) a while
// (what B's own client gets meanwhile).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makePeopleClip } from '../test/support/clips.ts';
import {
  addFileCamera,
  type ClientSocket,
  connectClient,
  redisLinkUp,
  spawnNode,
  subscribeWhenKnown,
} from '../test/support/liveNodes.ts';
import { startRedis } from '../test/support/redis.ts';
import type { ServerProcess } from '../test/support/serverProcess.ts';
import { until } from '../test/support/waits.ts';
import { numberArg } from './args.ts';
import { median, quantile, textTable } from './stats.ts';

const HELP = `Usage: npm run bench:live-nodes [-- options]

Starts a Redis and two facerec nodes sharing it (REDIS_URL); node B analyses a 640×480 file camera, and a client on
each node watches it. Prints capture → client latency p50/p95 for detections and previews on B (local) and A
(across Redis), the per-frame extra for crossing nodes, the time A's client takes to get the camera again after
Redis restarts, and what B's own client receives while Redis hangs.

Options:
  --duration S      seconds measured (default 30)
  --fps N           detections per second of the camera (default 5)
  --restarts N      Redis restarts (default 3)
  --hang S          seconds Redis is stopped with SIGSTOP (default 3; 0: none)
  --help            show this text`;

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '30' },
    fps: { type: 'string', default: '5' },
    restarts: { type: 'string', default: '3' },
    hang: { type: 'string', default: '3' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const durationS = numberArg('duration', args.duration);
const fps = numberArg('fps', args.fps);
const restarts = numberArg('restarts', args.restarts, { integer: true, allowZero: true });
const hangS = numberArg('hang', args.hang, { allowZero: true });
const WITHIN_MS = 90_000;

interface Arrivals {
  /** seq → epoch ms of arrival, and the frame's capture time. */
  detections: Map<number, { at: number; frameTime: number }>;
  previews: Map<number, number>;
}

function watch(socket: ClientSocket): Arrivals {
  const a: Arrivals = { detections: new Map(), previews: new Map() };
  socket.on('detections', (d) => a.detections.set(d.seq, { at: Date.now(), frameTime: d.frameTime }));
  socket.on('preview', (meta) => a.previews.set(meta.seq, Date.now()));
  return a;
}

const ms = (v: number) => (Number.isNaN(v) ? '–' : `${Math.round(v)} ms`);
const p50p95 = (v: number[]) => `${ms(median(v))} / ${ms(quantile(v, 0.95))}`;
const sleep = (t: number) => new Promise((resolve) => setTimeout(resolve, t));

async function main() {
  const root = await mkdtemp(join(tmpdir(), 'facerec-bench-live-'));
  const redis = await startRedis();
  const clip = await makePeopleClip(['penny'], { fps: 10, secondsPerImage: 4 });
  const nodes: ServerProcess[] = [];
  try {
    const env = { PREVIEW_FPS: String(fps), PREVIEW_WIDTH: '640' };
    nodes.push(
      await spawnNode({ dir: join(root, 'a'), redisUrl: redis.url, env }),
      await spawnNode({ dir: join(root, 'b'), redisUrl: redis.url, env, withPenny: true }),
    );
    const [nodeA, nodeB] = nodes as [ServerProcess, ServerProcess];
    const [urlA, urlB] = await Promise.all([nodeA.listeningWithin(WITHIN_MS), nodeB.listeningWithin(WITHIN_MS)]);
    const camera = await addFileCamera(urlB, clip.path, fps, WITHIN_MS);
    const [clientA, clientB] = await Promise.all([connectClient(urlA), connectClient(urlB)]);
    const [onA, onB] = [watch(clientA), watch(clientB)];
    await Promise.all([subscribeWhenKnown(clientA, camera, WITHIN_MS), subscribeWhenKnown(clientB, camera, WITHIN_MS)]);
    await sleep(2000); // previews on, first frames through
    for (const a of [onA, onB]) {
      a.detections.clear();
      a.previews.clear();
    }
    await sleep(durationS * 1000);

    const latency = (a: Arrivals) => [...a.detections.values()].map((d) => d.at - d.frameTime);
    const previewLatency = (a: Arrivals) =>
      [...a.previews].flatMap(([seq, at]) => {
        const d = onB.detections.get(seq) ?? onA.detections.get(seq);
        return d ? [at - d.frameTime] : [];
      });
    const extra = (pick: (a: Arrivals) => Map<number, number>) =>
      [...pick(onA)].flatMap(([seq, at]) => {
        const local = pick(onB).get(seq);
        return local === undefined ? [] : [at - local];
      });
    const detectionTimes = (a: Arrivals) => new Map([...a.detections].map(([seq, d]) => [seq, d.at]));
    console.log(
      `\n${durationS} s, camera at ${fps} detections/s and ${fps} previews/s (640 px), one client on each node:\n`,
    );
    console.log(
      textTable(
        [
          'message',
          'on B (local): received',
          'p50 / p95',
          'on A (across Redis): received',
          'p50 / p95',
          'A − B p50 / p95',
        ],
        [
          [
            'detections',
            String(onB.detections.size),
            p50p95(latency(onB)),
            String(onA.detections.size),
            p50p95(latency(onA)),
            p50p95(extra(detectionTimes)),
          ],
          [
            'previews',
            String(onB.previews.size),
            p50p95(previewLatency(onB)),
            String(onA.previews.size),
            p50p95(previewLatency(onA)),
            p50p95(extra((a) => a.previews)),
          ],
        ],
      ),
    );
    console.log("(latency: from the frame's capture on B to the client; \"A − B\": the same frame, A's arrival − B's)");

    const resumed: number[] = [];
    for (let i = 0; i < restarts; i++) {
      await redis.pause();
      await until('node A sees Redis down', async () => !(await redisLinkUp(urlA)), WITHIN_MS, 50);
      await sleep(1500);
      await redis.resume();
      const back = Date.now();
      const seqs = new Set(onA.detections.keys());
      await until(
        "A's client gets the camera again",
        () => [...onA.detections.keys()].some((s) => !seqs.has(s)),
        WITHIN_MS,
        10,
      );
      resumed.push(Date.now() - back);
      await sleep(1000);
    }
    if (restarts > 0) {
      console.log(
        `\nRedis restarted ${restarts} times (down 1.5 s each): A's client got the camera again ` +
          `${resumed.map(ms).join(', ')} after Redis was back (median ${ms(median(resumed))})`,
      );
    }

    if (hangS > 0) {
      const before = onB.detections.size;
      const hangStart = Date.now();
      redis.freeze();
      await sleep(hangS * 1000);
      redis.thaw();
      const hangEnd = Date.now();
      await sleep(3000);
      const during = [...onB.detections.values()].filter((d) => d.frameTime >= hangStart && d.frameTime < hangEnd);
      console.log(
        `Redis hung (SIGSTOP) ${hangS} s: B's own client got ${onB.detections.size - before} detections from then ` +
          `(${during.length} of frames captured during the hang, latency p50 / p95 ${p50p95(during.map((d) => d.at - d.frameTime))})`,
      );
    }
    const exits = nodes.map((n) => n.exit);
    console.log(`nodes still running: ${exits.every((e) => e === undefined) ? 'both' : JSON.stringify(exits)}`);
    clientA.close();
    clientB.close();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis.stop();
    await clip.remove();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
