// The dashboard's static files (client/dist, built by scripts/build-client.ts). Hashed assets are cached for
// good; index.html is revalidated so a rebuilt dashboard is picked up on the next load.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';

export const DASHBOARD_DIR = fileURLToPath(new URL('../client/dist', import.meta.url));

export function dashboardRoutes(dir = DASHBOARD_DIR): Hono {
  const app = new Hono();
  const files = serveStatic({
    root: dir,
    onFound: (file, c) => {
      c.header('Cache-Control', file.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.get('/', async (c, next) => {
    if (existsSync(dir)) return files(c, next);
    return c.text('The dashboard is not built: run `npm run build:client` (npm install and npm start do it).', 503);
  });
  app.get('/assets/*', files);
  app.get('/favicon.svg', files);
  return app;
}
