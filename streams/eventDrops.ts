// Person events that could not be stored because the storage is full or read-only. The pipeline goes on (live
// detections and previews do not need the disk); each event that cannot be stored is dropped and counted here.
// Logged per streak, not per event: once when dropping starts, a summary at most once a minute while it lasts,
// and once when events are stored again.
import type { StorageProblem } from '../facebank/storageError.ts';
import type { Logger } from '../models/logger.ts';
import type { CameraHealth } from './types.ts';

/** While events are being dropped, a summary is logged at most this often. */
export const DROP_LOG_INTERVAL_MS = 60_000;

export interface DropStats {
  /** Events dropped since the server started. */
  dropped: number;
  /** Of those, per problem. */
  byProblem: Record<StorageProblem, number>;
  /** Per camera id. */
  byCamera: Record<string, number>;
  /** Whether the last attempt to store an event failed (events are being dropped now). */
  dropping: boolean;
  /** The problem of the last drop, and when (epoch ms). */
  lastProblem?: StorageProblem;
  lastDropAt?: number;
}

export class EventDrops {
  private dropped = 0;
  private readonly byProblem: Record<StorageProblem, number> = { full: 0, unwritable: 0 };
  private readonly byCamera = new Map<string, number>();
  private lastProblem: StorageProblem | undefined;
  private lastDropAt: number | undefined;
  /** Drops of the current streak, and those not yet in a summary. */
  private streak = 0;
  private unlogged = 0;
  private lastLogAt = 0;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  drop(cameraId: string, problem: StorageProblem, detail: string): void {
    const now = this.now();
    this.dropped++;
    this.byProblem[problem]++;
    this.byCamera.set(cameraId, (this.byCamera.get(cameraId) ?? 0) + 1);
    this.lastProblem = problem;
    this.lastDropAt = now;
    this.unlogged++;
    if (this.streak++ === 0) {
      this.logger?.warn(
        { problem, detail },
        `events cannot be stored (storage ${problem === 'full' ? 'full' : 'not writable'}): dropping them and counting until they can; live detections go on`,
      );
      this.lastLogAt = now;
      this.unlogged = 0;
    } else if (now - this.lastLogAt >= DROP_LOG_INTERVAL_MS) {
      this.summary(now, 'events still cannot be stored');
    }
  }

  /** An event was stored: ends a streak of drops (logged once). */
  stored(): void {
    if (this.streak === 0) return;
    this.logger?.info(
      { dropped: this.streak, total: this.dropped },
      `events are stored again; ${this.streak} were dropped while the storage could not be written`,
    );
    this.streak = 0;
    this.unlogged = 0;
  }

  /** The camera's health with its count of dropped events, when it has any. */
  withDropped(h: CameraHealth): CameraHealth {
    const n = this.byCamera.get(h.id) ?? 0;
    return n > 0 ? { ...h, eventsDropped: n } : h;
  }

  stats(): DropStats {
    return {
      dropped: this.dropped,
      byProblem: { ...this.byProblem },
      byCamera: Object.fromEntries(this.byCamera),
      dropping: this.streak > 0,
      ...(this.lastProblem !== undefined ? { lastProblem: this.lastProblem } : {}),
      ...(this.lastDropAt !== undefined ? { lastDropAt: this.lastDropAt } : {}),
    };
  }

  private summary(now: number, message: string): void {
    this.logger?.warn(
      {
        dropped: this.unlogged,
        streak: this.streak,
        total: this.dropped,
        seconds: Math.round((now - this.lastLogAt) / 1000),
      },
      `${message}: ${this.unlogged} dropped in the last ${Math.round((now - this.lastLogAt) / 1000)} s (${this.streak} since storing stopped)`,
    );
    this.lastLogAt = now;
    this.unlogged = 0;
  }
}
