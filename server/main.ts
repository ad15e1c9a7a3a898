// `npm start`: the server with configuration from the environment (and facerec.config.json if present).
import { logAllocator } from './allocator.ts';
import { loadConfig } from './config.ts';
import { createLogger } from './logFormat.ts';
import { startServer } from './server.ts';

export async function serveUntilSignal(overrides: Parameters<typeof loadConfig>[1] = {}): Promise<void> {
  const config = loadConfig(process.env, overrides);
  const logger = createLogger(config);
  logAllocator(logger);
  const server = await startServer(config, logger);
  const stop = (signal: string, code = 0) => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(code),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Not `stop` itself: Node passes the signal's number as a second argument, which would become the exit code.
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // Another process took this node's name over (cluster mode): it runs the cameras now; this one must not stay.
  void server.runtime.cluster?.displaced.then(() => stop('displaced', 1));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serveUntilSignal().catch((err: Error) => {
    console.error(`facerec: ${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`);
    process.exit(1);
  });
}
