// Ingest from Frigate (what Double Take does): Frigate publishes each tracked object on `frigate/events`; for a
// person with a snapshot, the snapshot is fetched from Frigate's HTTP API, recognised, and the names published on
// `<prefix>/frigate/events` (and as the people's last sighting), so a Frigate user gets names without running
// our camera pipeline. Each Frigate event is recognised once, from the first message that has a snapshot.
import type { Logger } from 'pino';
import { z } from 'zod';
import { UNKNOWN } from '../../facebank/matcher.ts';
import type { Recognition } from '../../facebank/recognize.ts';

/** The part of Frigate's event message we read (https://docs.frigate.video/integrations/mqtt#frigateevents). */
export const FrigateMessage = z.object({
  type: z.enum(['new', 'update', 'end']),
  after: z.object({
    id: z.string().regex(/^[\w.-]+$/u, 'not a Frigate event id'),
    camera: z.string().min(1),
    label: z.string(),
    has_snapshot: z.boolean().optional(),
  }),
});

export const FrigateResult = z.object({
  frigateEventId: z.string(),
  camera: z.string(),
  /** Each face in the snapshot: its name (`Unknown` included) and score. */
  faces: z.array(z.object({ name: z.string(), score: z.number(), known: z.boolean() })),
  /** The known names among them. */
  matches: z.array(z.string()),
  at: z.number(),
  snapshotUrl: z.string(),
});
export type FrigateResult = z.infer<typeof FrigateResult>;

/** Event ids remembered so each is recognised once; older ones are forgotten beyond this many. */
const REMEMBERED = 1000;
const FETCH_TIMEOUT_MS = 10_000;

export interface FrigateOptions {
  /** Frigate's HTTP API, e.g. http://frigate:5000 */
  url: string;
  recognize: (jpeg: Uint8Array) => Promise<Recognition>;
  publish: (result: FrigateResult) => void;
  logger: Logger;
}

export class FrigateIngest {
  private readonly seen = new Set<string>();
  private readonly log: Logger;
  readonly stats = { recognised: 0, failed: 0 };

  constructor(private readonly o: FrigateOptions) {
    this.log = o.logger.child({ component: 'frigate' });
  }

  /** One message from `frigate/events`; returns once it is recognised (or skipped), never throws. */
  async onMessage(payload: Buffer): Promise<void> {
    let message: z.infer<typeof FrigateMessage>;
    try {
      message = FrigateMessage.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      return; // not an event we read (Frigate's other messages, or another version's shape)
    }
    const { id, camera, label, has_snapshot } = message.after;
    if (label !== 'person' || has_snapshot !== true || this.seen.has(id)) return;
    this.seen.add(id);
    if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.values().next().value as string);
    const snapshotUrl = `${this.o.url.replace(/\/+$/u, '')}/api/events/${id}/snapshot.jpg`;
    try {
      const res = await fetch(snapshotUrl, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`Frigate answered HTTP ${res.status}`);
      const { faces } = await this.o.recognize(new Uint8Array(await res.arrayBuffer()));
      const named = faces.map((f) => ({ name: f.match.name, score: Math.round(f.match.score * 1000) / 1000 }));
      const result: FrigateResult = {
        frigateEventId: id,
        camera,
        faces: named.map((f) => ({ ...f, known: f.name !== UNKNOWN })),
        matches: [...new Set(named.map((f) => f.name).filter((n) => n !== UNKNOWN))],
        at: Date.now(),
        snapshotUrl,
      };
      this.stats.recognised++;
      this.o.publish(result);
    } catch (err) {
      this.stats.failed++;
      const e = err as Error;
      this.log.warn(
        { event: id, camera, err: e.cause instanceof Error ? e.cause.message : e.message },
        'Frigate snapshot not recognised',
      );
    }
  }
}
