import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNoopLogger, type Logger } from '@astraflow/protocol';

/** A running health endpoint. */
export interface HealthServer {
  /** `http://host:port` */
  readonly url: string;
  close(): Promise<void>;
}

/** Options of {@link startHealthServer}. */
export interface HealthServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  /** Whether the worker should receive work now (`/readyz`). */
  ready(): boolean;
  /** Why it should not (e.g. `overloaded`), added to the 503 body as `reason`. */
  notReadyReason?(): string | undefined;
  metrics?: { render(): Promise<string>; contentType: string } | undefined;
  logger?: Logger;
}

/**
 * `/healthz` (the process answers), `/readyz` (session READY, not
 * draining and not overloaded: 200, else 503) and `/metrics` (Prometheus text), for
 * orchestrators' probes and scrapers.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const log = options.logger ?? createNoopLogger();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ready = options.ready();
      const reason = ready ? undefined : options.notReadyReason?.();
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(reason === undefined ? { ready } : { ready, reason }));
    } else if (path === '/metrics' && options.metrics) {
      options.metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': options.metrics!.contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, 'metrics rendering failed');
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
