// This node's part in a cluster: it heartbeats, follows the shared camera list, renews its leases, claims or
// gives up cameras towards its fair share, tells the camera registry which cameras to run (and under which
// epoch), and drains its event outbox to the shared database. When the database is away, the cameras it runs
// keep running and their events wait in the outbox; once it is back, the nodes renew what is still theirs before
// anyone takes expired leases (a node takes expired leases only after being connected for a whole lease).
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { CameraRegistry } from '../../streams/cameras/registry.ts';
import { EventOutbox, outboxOrigin } from '../../streams/eventOutbox.ts';
import { lastEventId, numberEventsAbove } from '../../streams/events.ts';
import { redactUrl } from '../../streams/sources/credentials.ts';
import { fairShare } from './balance.ts';
import { SharedCameraCatalog } from './cameraCatalog.ts';
import { CHANGES_CHANNEL, listenOn, openPool } from './database.ts';
import { drain } from './drainer.ts';
import { type EventIdRange, registerOrigin } from './eventIds.ts';
import { claim, type Leases, release, renew } from './leases.ts';
import { forgetOld, heartbeat, join, leave, liveNodes, NodeNameTaken } from './membership.ts';
import { migrate } from './migrations.ts';
import { SharedEvents } from './sharedEvents.ts';
import { type FacebankWrites, SharedFacebank } from './sharedFacebank.ts';
import { type ClusterHealth, readClusterStatus, statusWithin } from './status.ts';

export interface ClusterOptions {
  databaseUrl: string;
  nodeName: string;
  leaseSeconds: number;
  /** CAMERA_MOTION, for camera rows that say nothing about motion. */
  motion: boolean;
  /** EVENTS_RETENTION_DAYS: events older than this are deleted from the shared database too (0: kept). */
  eventsRetentionDays: number;
  logger: Logger;
}

/** Leases are renewed this many times per lease: a node may miss a few renewals before it loses its cameras. */
const RENEWALS_PER_LEASE = 4;
const DRAIN_EVERY_MS = 250;
/** On shutdown, the outbox gets this long to reach the database before the leases are given up anyway. */
const LEAVE_DRAIN_MS = 2000;
/**
 * How often a node forgets long-dead nodes and old lease history, and deletes events past retention from the
 * shared database (every node does; with nothing to delete these are cheap indexed queries).
 */
const FORGET_EVERY_MS = 60_000;

export class ClusterNode {
  readonly catalog: SharedCameraCatalog;
  readonly events: SharedEvents;
  private registry: CameraRegistry | undefined;
  private outbox: EventOutbox | undefined;
  private held: Leases = new Map();
  /** Cameras being stopped to be given up: not renewed into `held` meanwhile. */
  private readonly givingUp = new Set<string>();
  /** performance.now() of the first good tick since the database was last unreachable. */
  private connectedSince: number | undefined;
  /** The database's clock minus ours, in ms, measured at every tick. */
  private clockOffsetMs = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickRunning = false;
  /** A change was notified during a round: another round follows at once. */
  private again = false;
  /** The connection LISTENing for changes (re-opened at the next round when lost). */
  private listener: pg.Client | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private draining: Promise<void> | undefined;
  private drainBusy = false;
  private stopped = false;
  private leaving: Promise<void> | undefined;
  /** Events the shared database refused since the start (fencing: analysed after the lease had moved). */
  private refusedTotal = 0;
  private statusRead: ReturnType<typeof readClusterStatus> | undefined;
  private readonly logger: Logger;
  private sharedFacebank: SharedFacebank | undefined;
  private forgotAt = performance.now();
  /** The retention delete under way, if any: run beside the lease loop, never in its way. */
  private pruning: Promise<void> | undefined;
  /** Set when another process took this node's name over: nothing is renewed, released or left in its name. */
  private displacedBy: NodeNameTaken | undefined;
  private onDisplaced: ((err: NodeNameTaken) => void) | undefined;
  /**
   * Resolves if another process takes this node's name over (this one was frozen or cut off for longer than a
   * lease): its cameras are stopped by then, and the server should exit.
   */
  readonly displaced = new Promise<NodeNameTaken>((resolve) => {
    this.onDisplaced = resolve;
  });

  private constructor(
    private readonly pool: pg.Pool,
    private readonly o: ClusterOptions,
    /** The ids this node numbers its events with. */
    private readonly ids: EventIdRange,
    /** This process's hold on its node name (membership.ts). */
    private readonly token: string,
  ) {
    this.logger = o.logger.child({ node: o.nodeName });
    this.catalog = new SharedCameraCatalog(pool, o.motion);
    this.events = new SharedEvents(pool);
  }

  /**
   * Connects, migrates the schema, numbers the events of `db` (the node's SQLite) in this node's id range, and joins
   * (heartbeats); a database that cannot be reached stops the start.
   */
  static async open(o: ClusterOptions, db: Database.Database): Promise<ClusterNode> {
    const pool = openPool(o.databaseUrl, o.logger);
    try {
      const applied = await migrate(pool);
      const ids = await registerOrigin(pool, outboxOrigin(db), lastEventId(db));
      numberEventsAbove(db, ids.base);
      const token = await join(pool, o.nodeName, o.leaseSeconds);
      o.logger.info(
        { node: o.nodeName, database: redactUrl(o.databaseUrl), migrations: applied, eventIdsFrom: ids.base },
        `cluster mode: node ${o.nodeName} joined`,
      );
      return new ClusterNode(pool, o, ids, token);
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof NodeNameTaken) throw err;
      throw new Error(`cannot use the shared database ${redactUrl(o.databaseUrl)}: ${(err as Error).message}`);
    }
  }

  /**
   * Shares `facebank` through the database: its folder is brought in step before this resolves, then follows the
   * other nodes' writes. The returned writes are the API's (they reach every node).
   */
  async shareFacebank(
    facebank: ConstructorParameters<typeof SharedFacebank>[2],
    db: Database.Database,
  ): Promise<FacebankWrites> {
    const shared = new SharedFacebank(this.pool, this.o.databaseUrl, facebank, db, this.logger);
    this.sharedFacebank = shared;
    await shared.start();
    return shared;
  }

  /**
   * The nodes and every camera's lease, as the shared database has them now (/api/health). Requests that come
   * while a read is under way share it: health checks polled during an outage must not take the pool's
   * connections from the lease loop.
   */
  status(): Promise<ClusterHealth> {
    this.statusRead ??= readClusterStatus(this.pool, this.o.leaseSeconds).finally(() => {
      this.statusRead = undefined;
    });
    return statusWithin(this.statusRead, this.o.nodeName, this.o.leaseSeconds);
  }

  /** For /metrics: events refused by fencing since the start, and events waiting in the outbox. */
  counts(): { refused: number; outboxDepth: number } {
    return { refused: this.refusedTotal, outboxDepth: this.outbox?.depth() ?? 0 };
  }

  /** Starts the lease loop and the drainer for `registry`'s cameras, whose events are queued in `db`. */
  start(registry: CameraRegistry, db: Database.Database): void {
    this.registry = registry;
    this.outbox = new EventOutbox(db);
    this.connectedSince = performance.now();
    this.round();
    this.drainTimer = setInterval(() => {
      if (!this.drainBusy) void this.drainOnce();
    }, DRAIN_EVERY_MS);
  }

  /** One round of the lease loop now, then the next after a quarter of a lease (or at once when notified). */
  private round(): void {
    clearTimeout(this.tickTimer);
    if (this.stopped) return;
    if (this.tickRunning) {
      this.again = true;
      return;
    }
    this.tickRunning = true;
    this.again = false;
    const every = Math.max(250, (this.o.leaseSeconds * 1000) / RENEWALS_PER_LEASE);
    this.ticking = this.tick().finally(() => {
      this.tickRunning = false;
      if (this.stopped) return;
      if (this.again) this.round();
      else this.tickTimer = setTimeout(() => this.round(), every);
    });
  }

  private listen(): void {
    if (this.listener || this.stopped) return;
    this.listener = listenOn(
      this.o.databaseUrl,
      CHANGES_CHANNEL,
      () => this.round(),
      (client) => {
        if (this.listener === client) this.listener = undefined;
      },
    );
  }

  /** Deletes events past retention from the shared database, unless a delete is still under way. */
  private pruneEvents(): void {
    if (this.pruning || this.o.eventsRetentionDays <= 0) return;
    this.pruning = this.events
      .prune(this.o.eventsRetentionDays, Date.now(), () => !this.stopped)
      .then((events) => {
        if (events > 0) {
          this.logger.info(
            { events, retentionDays: this.o.eventsRetentionDays },
            'cluster: deleted events past retention from the shared database',
          );
        }
      })
      .catch((err: Error) => this.logger.warn({ err: err.message }, 'cluster: could not delete old events'))
      .finally(() => {
        this.pruning = undefined;
      });
  }

  /** Stops the loop (the cameras it runs stay as they are, for the registry to close). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.tickTimer);
    clearInterval(this.drainTimer);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.sharedFacebank?.stop();
    await this.ticking;
    await this.draining;
    await this.pruning;
  }

  /**
   * Leaves the cluster: the loop stops, the cameras stop (their last events into the outbox), the outbox is drained
   * (for a bounded time), and the leases are given up, so other nodes take the cameras at once. The first thing a
   * shutting-down server does, so the cameras are not left unwatched while it closes the rest.
   */
  handOver(): Promise<void> {
    this.leaving ??= (async () => {
      await this.stop();
      await this.registry?.hold(new Map());
      // The name, its leases and its row are another process's now.
      if (this.displacedBy) return;
      try {
        if (this.outbox) {
          const outbox = this.outbox;
          await Promise.race([
            drain(this.pool, outbox, this.o.nodeName, this.clockOffsetMs, this.ids),
            new Promise((r) => setTimeout(r, LEAVE_DRAIN_MS).unref()),
          ]);
        }
        // Out of the membership first: the others, told of the release, count without this node at once.
        await leave(this.pool, this.o.nodeName, this.token);
        await release(this.pool, this.o.nodeName, 'all');
        this.logger.info({ cameras: this.held.size }, 'cluster: left, cameras handed over');
      } catch (err) {
        // They will expire: other nodes take them after a lease; the outbox waits for this node's next start.
        this.logger.warn({ err: (err as Error).message }, 'cluster: could not hand the cameras over');
      }
    })();
    return this.leaving;
  }

  /** Hands over (if not done yet) and closes the connections; the registry has closed by now. */
  async close(): Promise<void> {
    await this.handOver();
    await this.pool.end().catch(() => undefined);
  }

  private async tick(): Promise<void> {
    const registry = this.registry;
    if (!registry) return;
    const ttl = this.o.leaseSeconds;
    const me = this.o.nodeName;
    try {
      const t0 = Date.now();
      const clock = await this.pool.query<{ ms: number }>(
        'SELECT (extract(epoch from clock_timestamp()) * 1000)::float8 AS ms',
      );
      this.clockOffsetMs = Number(clock.rows[0]?.ms) - (t0 + Date.now()) / 2;
      await heartbeat(this.pool, me, this.token);
      this.listen();
      if (this.connectedSince === undefined) {
        this.connectedSince = performance.now();
        this.logger.info('cluster: the shared database is back');
      }
      // The registry's work (starting and stopping pipelines) is queued on its own lock in this order, not awaited:
      // a camera slow to stop must not hold up the renewal of the others.
      const asOf = registry.writes();
      void registry.follow(await this.catalog.all(), asOf).catch((err: unknown) => this.registryFailed(err));
      const held = await renew(this.pool, me, ttl);
      for (const id of this.givingUp) held.delete(id);
      const { nodes, total } = await liveNodes(this.pool, ttl);
      const target = fairShare(me, nodes, total);
      if (held.size > target) {
        const given = [...held.keys()].sort().slice(target);
        for (const id of given) held.delete(id);
        void this.giveUp(registry, given, new Map(held), target);
      } else if (held.size < target && this.givingUp.size === 0) {
        const takeExpired = performance.now() - this.connectedSince >= ttl * 1000;
        const wanted = target - held.size;
        const won = await claim(this.pool, me, wanted, ttl, takeExpired);
        for (const [id, epoch] of won) held.set(id, epoch);
        // Fewer than wanted, some of them perhaps skipped while another node was claiming: look again at once.
        if (won.size > 0 && won.size < wanted) this.again = true;
        if (won.size > 0) this.logger.info({ cameras: [...won.keys()], target }, `cluster: took ${won.size} cameras`);
      }
      const lost = [...this.held.keys()].filter((id) => !held.has(id) && !this.givingUp.has(id));
      this.held = held;
      registry.hold(held).then(() => {
        if (lost.length > 0) this.logger.warn({ cameras: lost }, `cluster: lost the lease on ${lost.length} cameras`);
      }, this.registryFailed);
      if (performance.now() - this.forgotAt >= FORGET_EVERY_MS) {
        this.forgotAt = performance.now();
        const forgot = await forgetOld(this.pool);
        if (forgot.nodes + forgot.leases > 0)
          this.logger.info(forgot, 'cluster: forgot long-gone nodes and old leases');
        this.pruneEvents();
      }
    } catch (err) {
      if (err instanceof NodeNameTaken) {
        this.displace(registry, err);
        return;
      }
      if (this.connectedSince !== undefined) {
        this.logger.warn(
          { err: (err as Error).message },
          'cluster: the shared database is unreachable; cameras keep running, their events wait in the outbox',
        );
      }
      this.connectedSince = undefined;
    }
  }

  /**
   * Gives cameras up towards a fair share: stopped first, their last events copied, then released, so the next
   * owner's events follow ours. Renewal goes on meanwhile (without them); if the database fails, they are renewed
   * and run again at the next round.
   */
  private async giveUp(registry: CameraRegistry, ids: string[], keep: Leases, target: number): Promise<void> {
    for (const id of ids) this.givingUp.add(id);
    try {
      await registry.hold(keep);
      await this.drainOnce(true);
      await release(this.pool, this.o.nodeName, ids);
      this.logger.info({ cameras: ids, target }, `cluster: gave up ${ids.length} cameras towards a fair share`);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'cluster: could not give cameras up; they run on');
    } finally {
      for (const id of ids) this.givingUp.delete(id);
    }
  }

  /** Another process runs under this node's name: stop everything here, in this process only. */
  private displace(registry: CameraRegistry, err: NodeNameTaken): void {
    if (this.displacedBy) return;
    this.displacedBy = err;
    this.stopped = true;
    clearInterval(this.drainTimer);
    this.held = new Map();
    this.logger.error({ err: err.message }, `cluster: ${err.message}; this process stops its cameras`);
    void registry
      .hold(new Map())
      .catch(this.registryFailed)
      .finally(() => this.onDisplaced?.(err));
  }

  private readonly registryFailed = (err: unknown): void => {
    this.logger.error({ err: (err as Error).message }, 'cluster: starting or stopping cameras failed');
  };

  /** One drain of the outbox; `strict`: a failure is thrown, not just left for the next round. */
  private drainOnce(strict = false): Promise<void> {
    const outbox = this.outbox;
    if (!outbox) return Promise.resolve();
    const run = async () => {
      this.drainBusy = true;
      try {
        const { refused } = await drain(this.pool, outbox, this.o.nodeName, this.clockOffsetMs, this.ids);
        this.refusedTotal += refused.length;
        if (refused.length > 0) {
          this.logger.warn(
            { refused: refused.length, cameras: [...new Set(refused.map((r) => r.cameraId))] },
            'cluster: events refused: analysed after the lease had passed to another node',
          );
        }
      } catch (err) {
        if (strict) throw err;
      } finally {
        this.drainBusy = false;
      }
    };
    // One drain at a time: the same event must not be sent twice at once.
    const next = (this.draining ?? Promise.resolve()).then(run);
    this.draining = next.catch(() => undefined);
    return next;
  }
}
