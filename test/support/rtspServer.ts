// Starts test/support/rtsp_server.py (gst-rtsp-server, Debian packages: scripts/setup-test-deps.sh) on 127.0.0.1,
// serving a clip in a loop, and lets tests kill, pause and restart it like a flaky camera.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./rtsp_server.py', import.meta.url));
// Debian's python3, which has the gi bindings; the python3 first on PATH (pyenv) may not.
const PYTHON = '/usr/bin/python3';

export interface RtspServerOptions {
  /** An MP4 with an H.264 track (test/support/clips.ts makes one). */
  clip: string;
  /** Default: a free port. */
  port?: number;
  /** Mount path, default /cam. */
  path?: string;
  /** How long to wait for it to listen (default 15 s). */
  startTimeoutMs?: number;
}

export interface RtspTestServer {
  readonly port: number;
  /** rtsp://127.0.0.1:<port><path> */
  readonly url: string;
  /** The running server's pid (changes on restart); undefined while stopped. */
  readonly pid: number | undefined;
  /** url with credentials in it (the server does not check them). */
  urlWith(user: string, password: string, path?: string): string;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, and wait for the exit: a camera that vanishes without closing its connections. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a camera that hangs with its connections open. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port (stopping it first if it runs). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHook = false;

/** Kills every test server still running (afterAll safety net; the servers also die with this process). */
export async function stopAllRtspServers(): Promise<void> {
  await Promise.all([...running].map((child) => terminate(child, 'SIGTERM')));
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export function terminate(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
    // A stopped process only acts on SIGTERM once it runs again.
    if (signal === 'SIGTERM') child.kill('SIGCONT');
  });
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function launch(clip: string, port: number, path: string, timeoutMs: number): Promise<ChildProcess> {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const child = spawn(PYTHON, [SCRIPT, '--port', String(port), '--clip', clip, '--path', path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  let ready = false;
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (text: string) => {
    output += text;
    if (output.includes('READY')) ready = true;
  });
  child.stderr?.on('data', (text: string) => {
    output = (output + text).slice(-4000);
  });

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`rtsp_server.py exited (${child.signalCode ?? child.exitCode}) before listening:\n${output}`);
    }
    if (ready && (await canConnect(port))) return child;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await terminate(child, 'SIGKILL');
  throw new Error(`rtsp_server.py did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${output}`);
}

export async function startRtspServer(options: RtspServerOptions): Promise<RtspTestServer> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found: run scripts/setup-test-deps.sh`);
  if (!existsSync(options.clip)) throw new Error(`clip not found: ${options.clip}`);
  const path = options.path ?? '/cam';
  const port = options.port ?? (await freePort());
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  let child: ChildProcess | undefined = await launch(options.clip, port, path, timeoutMs);

  const server: RtspTestServer = {
    port,
    url: `rtsp://127.0.0.1:${port}${path}`,
    get pid() {
      return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
    },
    urlWith(user, password, at = path) {
      return `rtsp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}${at}`;
    },
    async stop() {
      if (child) await terminate(child, 'SIGTERM');
    },
    async kill() {
      if (child) await terminate(child, 'SIGKILL');
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async restart() {
      if (child) await terminate(child, 'SIGTERM');
      child = undefined;
      child = await launch(options.clip, port, path, timeoutMs);
    },
  };
  return server;
}
