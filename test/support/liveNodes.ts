// Server nodes sharing a Redis (REDIS_URL), for the cross-node tests and benchmark: each node a real server
// process with its own data dir, one worker, CPU, small previews; a file camera showing Penny, whom a node's
// facebank may know.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../../server/live/protocol.ts';
import type { RedisHealth } from '../../server/live/redisLink.ts';
import { type ServerProcess, spawnServer } from './serverProcess.ts';
import { personImage } from './testdata.ts';
import { until } from './waits.ts';

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface NodeOptions {
  /** The node's data dir (created): its facebank folders and database. */
  dir: string;
  redisUrl: string;
  /** Enrol Penny (with another photo of her than the clips show). */
  withPenny?: boolean;
  env?: Record<string, string>;
}

export async function spawnNode({ dir, redisUrl, withPenny = false, env = {} }: NodeOptions): Promise<ServerProcess> {
  await mkdir(join(dir, 'people'), { recursive: true });
  if (withPenny) {
    await mkdir(join(dir, 'people', 'penny'));
    await copyFile(personImage('penny', 2), join(dir, 'people', 'penny', 'penny2.png'));
  }
  return spawnServer({
    env: {
      FACEBANK_DIR: join(dir, 'people'),
      DATABASE_PATH: join(dir, 'facerec.db'),
      POOL_SIZE: '1',
      INTRA_OP_THREADS: '1',
      EXECUTION_PROVIDER: 'cpu',
      PREVIEW_WIDTH: '160',
      REDIS_URL: redisUrl,
      ...env,
    },
  });
}

/**
 * Adds a file camera analysing every frame (a still picture has no motion) and waits until it analyses: returns
 * its id.
 */
export async function addFileCamera(
  url: string,
  path: string,
  maxDetectFps: number,
  withinMs: number,
): Promise<string> {
  const res = await fetch(`${url}/api/cameras`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'door', url: path, motion: false, maxDetectFps }),
  });
  if (res.status !== 201) throw new Error(`POST /api/cameras: ${res.status} ${await res.text()}`);
  const id = ((await res.json()) as { id: string }).id;
  await until(
    `camera ${id} analysing`,
    async () => {
      const camera = (await (await fetch(`${url}/api/cameras/${id}`)).json()) as {
        health: { state: string; processedFps: number };
      };
      return camera.health.state === 'live' && camera.health.processedFps > 0;
    },
    withinMs,
    100,
  );
  return id;
}

export async function redisHealth(url: string): Promise<RedisHealth> {
  return ((await (await fetch(`${url}/api/health`)).json()) as { redis: RedisHealth }).redis;
}

export async function redisLinkUp(url: string): Promise<boolean> {
  const h = await redisHealth(url);
  return h.enabled && h.connected;
}

/** A dashboard client (WebSocket, no reconnection), connected. */
export async function connectClient(url: string): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { transports: ['websocket'], reconnection: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  return socket;
}

/** Subscribes to `cameraId`, retrying until the node has heard of it (from the node that analyses it). */
export async function subscribeWhenKnown(socket: ClientSocket, cameraId: string, withinMs: number) {
  return until(
    `the node knows camera ${cameraId}`,
    async () => {
      const reply = await socket.timeout(3000).emitWithAck('subscribe', { cameras: [cameraId] });
      return 'cameras' in reply && reply.cameras.includes(cameraId) && reply;
    },
    withinMs,
    200,
  );
}
