// The soak's Socket.IO clients. A watcher stays connected all along: it records every person event (the
// events produced, to compare with the events stored) and every camera state change (for recovery times and
// unexpected drops). A dashboard comes and goes as a browser tab does: it connects, subscribes to every camera,
// receives detections, previews and events, fetches each event's face crop, then drops, in turn cleanly
// (disconnect) and abruptly (its TCP connection destroyed, as when a laptop sleeps), and connects again.
import { io, type Socket } from 'socket.io-client';
import { z } from 'zod';
import { CameraHealth, PersonEvent } from '../../server/schemas.ts';
import { call, type Tally } from './tally.ts';

export type EventMessage = z.infer<typeof PersonEvent>;
export type HealthMessage = z.infer<typeof CameraHealth>;

const SubscribeAck = z.union([
  z.object({ cameras: z.array(z.string()), all: z.boolean(), unknown: z.array(z.string()) }),
  z.object({ error: z.string(), message: z.string() }),
]);

export interface StateChange {
  at: number;
  health: HealthMessage;
}

export class Watcher {
  readonly events = new Map<number, EventMessage>();
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly socket: Socket;
  private closing = false;

  constructor(base: string, tally: Tally) {
    this.socket = io(base, { transports: ['websocket'] });
    this.socket.on('events', (raw: unknown) => {
      const event = PersonEvent.safeParse(raw);
      if (!event.success) tally.error('socket', `watcher: not an event: ${JSON.stringify(raw)}`);
      else this.events.set(event.data.id, event.data);
    });
    this.socket.on('state', (raw: unknown) => {
      const health = CameraHealth.safeParse(raw);
      if (!health.success) {
        tally.error('socket', `watcher: not a camera state: ${JSON.stringify(raw)}`);
        return;
      }
      const change = { at: Date.now(), health: health.data };
      for (const listener of this.listeners) listener(change);
    });
    this.socket.on('connect_error', (err) => tally.error('socket', `watcher: connect error: ${err.message}`));
    this.socket.on('disconnect', (reason) => {
      if (!this.closing) tally.error('socket', `watcher: disconnected (${reason}); events meanwhile are missed`);
    });
  }

  /** Resolves once connected (rejects after 15 s). */
  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the watcher did not connect within 15 s')), 15_000);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  onState(listener: (change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closing = true;
    this.socket.disconnect();
  }
}

export interface DashboardStats {
  connects: number;
  drops: { clean: number; abrupt: number };
  detections: number;
  previews: number;
  events: number;
  crops: number;
}

/** The TCP socket under a websocket-transport client (engine.io-client → ws → net.Socket). */
function tcpSocket(socket: Socket): { destroy(): void } | undefined {
  const transport = socket.io.engine?.transport as unknown as { ws?: { _socket?: { destroy(): void } } } | undefined;
  return transport?.ws?._socket;
}

export class Dashboard {
  readonly stats: DashboardStats = {
    connects: 0,
    drops: { clean: 0, abrupt: 0 },
    detections: 0,
    previews: 0,
    events: 0,
    crops: 0,
  };
  private socket: Socket | undefined;
  private cycle = 0;
  private readonly crops = new Set<Promise<void>>();

  constructor(
    private readonly base: string,
    private readonly tally: Tally,
  ) {}

  /** Connects and subscribes to every camera. */
  async connect(): Promise<void> {
    const socket = io(this.base, { transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket = socket;
    socket.on('detections', () => this.stats.detections++);
    socket.on('preview', () => this.stats.previews++);
    socket.on('events', (raw: unknown) => {
      this.stats.events++;
      const event = PersonEvent.safeParse(raw);
      if (!event.success) {
        this.tally.error('socket', `dashboard: not an event: ${JSON.stringify(raw)}`);
        return;
      }
      if (event.data.cropUrl === null) return;
      const fetching = this.fetchCrop(event.data.cropUrl);
      this.crops.add(fetching);
      void fetching.finally(() => this.crops.delete(fetching));
    });
    socket.on('connect_error', (err) => this.tally.error('socket', `dashboard: connect error: ${err.message}`));
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 15_000);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) {
      this.tally.error('socket', 'dashboard: not connected within 15 s');
      return;
    }
    this.stats.connects++;
    const ack = SubscribeAck.safeParse(await socket.timeout(15_000).emitWithAck('subscribe', { cameras: ['*'] }));
    if (!ack.success || 'error' in ack.data || !ack.data.all) {
      this.tally.error('socket', `dashboard: subscribe answered ${JSON.stringify(ack.success ? ack.data : ack.error)}`);
    }
  }

  /** Drops the connection: cleanly and abruptly in turn. */
  async drop(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    this.socket = undefined;
    const abrupt = this.cycle++ % 2 === 1;
    const tcp = abrupt ? tcpSocket(socket) : undefined;
    if (tcp) {
      tcp.destroy();
      this.stats.drops.abrupt++;
    } else {
      this.stats.drops.clean++;
    }
    socket.disconnect();
    await Promise.all(this.crops);
  }

  private async fetchCrop(url: string): Promise<void> {
    const answer = await call(this.tally, this.base, 'event crop', { path: url, expect: 200 });
    if (!answer) return;
    if (!answer.contentType.startsWith('image/jpeg') || answer.bytes === 0) {
      this.tally.error('answer', `event crop ${url}: ${answer.contentType}, ${answer.bytes} bytes`);
    } else {
      this.stats.crops++;
    }
  }
}
