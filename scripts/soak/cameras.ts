// The soak's cameras: each plays its own clip of four test people (2 s each, a 2 s empty frame between them, a
// 16 s loop, so every pass makes an appeared and a left event per person). A camera is an RTSP stream of the
// test RTSP server (test/support/rtsp_server.py, one server per camera), or, for the first `fileCameras`, the
// clip read as a local file. One RTSP server at a time, in turn, is SIGKILLed and restarted: its recovery is
// timed from the camera's own state changes (the watcher's 'state' messages). Any camera that leaves 'live'
// outside such a kill is an error.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Camera } from '../../server/schemas.ts';
import { makeTestClip, writeEmptyImage } from '../../test/support/clips.ts';
import { type RtspTestServer, startRtspServer } from '../../test/support/rtspServer.ts';
import { PEOPLE, personImage } from '../../test/support/testdata.ts';
import type { StateChange, Watcher } from './dashboards.ts';
import { call, type Tally } from './tally.ts';

const LIVE_TIMEOUT_MS = 60_000;
/** The kill must be noticed (the camera leaves 'live') within this. */
const NOTICE_TIMEOUT_MS = 15_000;
/** After this long without 'live' the recovery is a failure (the promise is 5 s). */
const RECOVERY_TIMEOUT_MS = 30_000;

export interface Recovery {
  camera: string;
  /** SIGKILL → the camera leaves 'live'. */
  noticedMs: number | undefined;
  /** Restart called → the RTSP server listens (python + GStreamer start-up). */
  serverStartMs: number;
  /** The server listens → ffmpeg spawned for the attempt that went live (the reconnect's wait). */
  retryWaitMs: number | undefined;
  /** That spawn → 'live' (ffmpeg start, RTSP handshake, first decoded frame, the state message). */
  spawnToLiveMs: number | undefined;
  /** The server listens → the camera is 'live' (the product's promise: within 5 s); undefined: it did not. */
  liveMs: number | undefined;
  /** SIGKILL → 'live' again. */
  killToLiveMs: number | undefined;
}

/** A decoder start in the server's log ('ffmpeg decoder started', at debug level). */
export interface DecoderSpawn {
  input: string;
  at: number;
}

interface SoakCamera {
  id: string;
  name: string;
  rtsp: RtspTestServer | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SoakCameras {
  readonly recoveries: Recovery[] = [];
  /** Cameras that left 'live' without being killed. */
  unexpectedDrops = 0;
  private readonly cameras: SoakCamera[] = [];
  /** Ids of cameras whose state changes are expected (killed, not yet live again; or being removed). */
  private readonly excused = new Set<string>();
  private readonly latest = new Map<string, StateChange>();
  /** The latest state changes of every camera, oldest first. */
  private readonly history: StateChange[] = [];
  private nextKill = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly base: string,
    private readonly tally: Tally,
    private readonly watcher: Watcher,
    private readonly dir: string,
    /** Filled by the caller from the server's log as it comes. */
    private readonly spawns: readonly DecoderSpawn[],
  ) {}

  /** Makes the clips, starts the RTSP servers, adds the cameras over the API and waits for all to be live. */
  async start(count: number, fileCameras: number): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const empty = await writeEmptyImage(join(this.dir, 'empty.png'));
    this.unsubscribe = this.watcher.onState((change) => this.onState(change));
    for (let i = 0; i < count; i++) {
      const people = [0, 1, 2, 3].map((k) => PEOPLE[(2 * i + k) % PEOPLE.length]!);
      const clip = await makeTestClip(
        people.flatMap((p) => [personImage(p, 1), empty]),
        join(this.dir, `camera${i + 1}.mp4`),
        { fps: 15, secondsPerImage: 2 },
      );
      const rtsp = i < fileCameras ? undefined : await startRtspServer({ clip });
      const name = `soak ${i + 1} (${people.join(', ')})`;
      const answer = await call(this.tally, this.base, 'add camera', {
        method: 'POST',
        path: '/api/cameras',
        json: { name, url: rtsp?.url ?? clip },
        expect: 201,
      });
      const camera = Camera.safeParse(answer?.json);
      if (!camera.success) throw new Error(`adding camera ${name} failed: ${JSON.stringify(answer?.json)}`);
      this.cameras.push({ id: camera.data.id, name, rtsp });
      this.excused.add(camera.data.id);
    }
    const deadline = Date.now() + LIVE_TIMEOUT_MS;
    while (!this.cameras.every((c) => this.isLive(c.id))) {
      if (Date.now() > deadline) throw new Error(`cameras not live within ${LIVE_TIMEOUT_MS / 1000} s`);
      await sleep(200);
    }
    this.excused.clear();
  }

  get killable(): number {
    return this.cameras.filter((c) => c.rtsp).length;
  }

  /** The next RTSP camera's server, in turn: SIGKILL, `downMs` after the camera noticed, restart; timed. */
  async killNext(downMs: number): Promise<void> {
    const rtspCameras = this.cameras.filter((c) => c.rtsp);
    const camera = rtspCameras[this.nextKill++ % rtspCameras.length];
    if (!camera?.rtsp) return;
    this.excused.add(camera.id);
    try {
      const killedAt = Date.now();
      await camera.rtsp.kill();
      const noticedAt = await this.waitFor(camera.id, (s) => s !== 'live', killedAt, NOTICE_TIMEOUT_MS);
      if (noticedAt === undefined) this.tally.error('camera', `${camera.name}: still live 15 s after its server died`);
      await sleep(downMs);
      const restartAt = Date.now();
      await camera.rtsp.restart();
      const listeningAt = Date.now();
      const liveAt = await this.waitFor(camera.id, (s) => s === 'live', listeningAt, RECOVERY_TIMEOUT_MS);
      if (liveAt === undefined) {
        const h = this.latest.get(camera.id)?.health;
        this.tally.error(
          'camera',
          `${camera.name}: not live 30 s after its server restarted (${h?.state}: ${h?.lastError})`,
        );
      }
      const url = camera.rtsp.url;
      const spawnedAt =
        liveAt === undefined ? undefined : this.spawns.findLast((s) => s.input === url && s.at <= liveAt)?.at;
      this.recoveries.push({
        camera: camera.name,
        retryWaitMs: spawnedAt === undefined ? undefined : Math.max(0, spawnedAt - listeningAt),
        spawnToLiveMs:
          spawnedAt === undefined || liveAt === undefined ? undefined : liveAt - Math.max(spawnedAt, listeningAt),
        noticedMs: noticedAt === undefined ? undefined : noticedAt - killedAt,
        serverStartMs: listeningAt - restartAt,
        liveMs: liveAt === undefined ? undefined : liveAt - listeningAt,
        killToLiveMs: liveAt === undefined ? undefined : liveAt - killedAt,
      });
    } finally {
      this.excused.delete(camera.id);
    }
  }

  /** Removes every camera over the API (their pipelines store the last person_left events). */
  async removeAll(): Promise<void> {
    for (const camera of this.cameras) {
      this.excused.add(camera.id);
      await call(this.tally, this.base, `remove camera ${camera.name}`, {
        method: 'DELETE',
        path: `/api/cameras/${camera.id}`,
        expect: 204,
      });
    }
  }

  /** Stops the RTSP servers and removes the clips. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const camera of this.cameras) await camera.rtsp?.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private isLive(id: string): boolean {
    return this.latest.get(id)?.health.state === 'live';
  }

  private onState(change: StateChange): void {
    const { id, state, lastError } = change.health;
    this.latest.set(id, change);
    this.history.push(change);
    if (this.history.length > 1000) this.history.splice(0, 500);
    const camera = this.cameras.find((c) => c.id === id);
    if (!camera || this.excused.has(id) || state === 'live') return;
    this.unexpectedDrops++;
    this.tally.error('camera', `${camera.name} went ${state} without being killed${lastError ? `: ${lastError}` : ''}`);
  }

  /** When the camera's state first met `ok` at or after `since` (from the watcher), or undefined on timeout. */
  private async waitFor(
    id: string,
    ok: (state: string) => boolean,
    since: number,
    timeoutMs: number,
  ): Promise<number | undefined> {
    const deadline = since + timeoutMs;
    for (;;) {
      const found = this.history.find((c) => c.health.id === id && c.at >= since && ok(c.health.state));
      if (found) return found.at;
      if (Date.now() > deadline) return undefined;
      await sleep(20);
    }
  }
}
