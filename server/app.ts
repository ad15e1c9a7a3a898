// The HTTP application: routes mounted over the facebank and the inference pool. Transport only.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { processAllocator } from './allocator.ts';
import type { AppDeps } from './context.ts';
import { dashboardRoutes } from './dashboard.ts';
import { HttpError, toHttpError } from './errors.ts';
import { openApiDocument } from './openapi.ts';
import { cameraRoutes, eventRoutes } from './routes/cameras.ts';
import { negativeRoutes, rejectRoutes, unknownRoutes } from './routes/feedback.ts';
import { peopleRoutes } from './routes/people.ts';
import { recognitionRoutes } from './routes/recognition.ts';

export function createApp(deps: AppDeps): Hono {
  const { config, pool, facebank, metrics, logger } = deps;
  const app = new Hono();

  app.onError((err, c) => {
    const http = toHttpError(err);
    if (!http) {
      logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
      return c.json({ error: 'internal_error', message: 'an unexpected error occurred' }, 500);
    }
    if (http.status >= 500) {
      // The cause (e.g. ENOSPC with its path) is for the operator's log, not for the client.
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
      logger.warn({ code: http.code, path: c.req.path, ...(cause ? { cause } : {}) }, http.message);
    }
    return c.json({ error: http.code, message: http.message }, http.status, http.headers);
  });
  app.notFound((c) => c.json({ error: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.use(metrics.middleware());
  app.use(
    bodyLimit({
      maxSize: config.bodyLimitBytes,
      onError: () => {
        // The unread body is not drained: the connection is closed after this answer, so say so, or the
        // client reuses the socket for its next request and that request fails.
        throw new HttpError(
          413,
          'payload_too_large',
          `the request body is over the ${config.bodyLimitBytes}-byte limit`,
          { Connection: 'close' },
        );
      },
    }),
  );

  app.route('/', recognitionRoutes(deps));
  app.route('/api/people', peopleRoutes(deps));
  app.route('/api/people', negativeRoutes(deps));
  app.route('/api/cameras', cameraRoutes(deps));
  app.route('/api/events', eventRoutes(deps));
  app.route('/api/events', rejectRoutes(deps));
  app.route('/api/unknowns', unknownRoutes(deps));

  app.get('/api/health', async (c) => {
    const stats = pool.stats();
    const fb = facebank.stats();
    const info = pool.info;
    return c.json({
      status: 'ok',
      provider: info.provider,
      ...(info.fallbackReason ? { providerNote: info.fallbackReason } : {}),
      allocator: processAllocator(),
      modelsLoaded: stats.size > 0,
      embedder: info.embedderName,
      workers: stats.size,
      queueDepth: stats.queued,
      busyWorkers: stats.busy,
      facebank: { people: fb.people, images: fb.images, templates: fb.templates },
      threshold: facebank.threshold,
      operatingPoint: facebank.operatingPoint,
      events: deps.cameras.events.drops.stats(),
      integrations: deps.integrations.health(),
      redis: deps.live.health(),
      cluster: deps.cluster ? await deps.cluster.status() : { enabled: false },
    });
  });
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  const openapi = openApiDocument();
  app.get('/api/openapi.json', (c) => c.json(openapi));
  app.route('/', dashboardRoutes());
  return app;
}
