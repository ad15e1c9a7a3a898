// Prometheus metrics (prom-client, a registry of our own rather than the global one).
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import sharp from 'sharp';

export interface MetricsSources {
  queueDepth(): number;
  busyWorkers(): number;
  facebankTemplates(): number;
  /** Person events dropped since the start, per storage problem (full, unwritable). */
  eventsDropped(): Record<string, number>;
  /** Per camera id: the motion gate's decisions since its pipeline (re)started (skipped, cropped, whole). */
  motionFrames(): Record<string, Record<MotionDecision, number>>;
  /** Cluster mode: events refused by fencing since the start, and events waiting in the outbox. */
  cluster?(): { refused: number; outboxDepth: number };
}

export type MotionDecision = 'skipped' | 'cropped' | 'whole';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'facerec_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'facerec_http_request_duration_seconds',
    help: 'HTTP request latency by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private readonly inference = new Histogram({
    name: 'facerec_inference_stage_seconds',
    help: 'Time per analysis stage (decode, pyramid, pnet, rnet, onet, align, embed, match)',
    labelNames: ['stage'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'facerec_' });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    gauge('facerec_inference_queue_depth', 'Requests waiting for an inference worker', sources.queueDepth);
    gauge('facerec_inference_busy_workers', 'Inference workers running a request', sources.busyWorkers);
    gauge('facerec_facebank_templates', 'Face templates in the facebank', sources.facebankTemplates);
    // Counted by the events store; the counter catches up with its totals at each scrape (it only grows).
    const reported = new Map<string, number>();
    const dropped = new Counter({
      name: 'facerec_events_dropped_total',
      help: 'Person events not stored because the storage was full or not writable, by reason',
      labelNames: ['reason'] as const,
      registers: [this.registry],
      collect() {
        for (const [reason, total] of Object.entries(sources.eventsDropped())) {
          const delta = total - (reported.get(reason) ?? 0);
          if (delta > 0) this.inc({ reason }, delta);
          reported.set(reason, total);
        }
      },
    });
    for (const reason of Object.keys(sources.eventsDropped())) dropped.inc({ reason }, 0);
    const gateReported = new Map<string, number>();
    new Counter({
      name: 'facerec_camera_frames_total',
      help: 'Camera frames by motion decision: skipped (nothing moves, no tracked face), cropped or whole (analysed)',
      labelNames: ['camera', 'decision'] as const,
      registers: [this.registry],
      collect() {
        for (const [camera, totals] of Object.entries(sources.motionFrames())) {
          for (const [decision, total] of Object.entries(totals)) {
            const key = `${camera}\u0000${decision}`;
            const before = gateReported.get(key) ?? 0;
            // A restarted pipeline counts from 0 again: all of its count is new.
            const delta = total >= before ? total - before : total;
            this.inc({ camera, decision }, delta);
            gateReported.set(key, total);
          }
        }
      },
    });
    const cluster = sources.cluster?.bind(sources);
    if (cluster) {
      gauge(
        'facerec_cluster_outbox_depth',
        'Person events waiting to be copied to the shared database',
        () => cluster().outboxDepth,
      );
      let refusedReported = 0;
      new Counter({
        name: 'facerec_cluster_events_refused_total',
        help: "Person events the shared database refused (fencing: analysed after the camera's lease had moved)",
        registers: [this.registry],
        collect() {
          const total = cluster().refused;
          this.inc(total - refusedReported);
          refusedReported = total;
        },
      });
    }
    // libvips keeps one operation cache for the whole process (every worker thread's decodes included).
    gauge(
      'facerec_image_cache_bytes',
      "libvips' operation cache (sharp.cache())",
      () => sharp.cache().memory.current * 2 ** 20,
    );
  }

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      const end = this.latency.startTimer();
      await next();
      // The matched route pattern (e.g. /api/people/:name) keeps label cardinality bounded.
      const route = c.res.status === 404 ? 'unmatched' : routePath(c);
      end({ method: c.req.method, route });
      this.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    };
  }

  observeTimings(timings: Record<string, number | undefined>): void {
    for (const [stage, ms] of Object.entries(timings))
      if (ms !== undefined) this.inference.observe({ stage }, ms / 1000);
  }

  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
