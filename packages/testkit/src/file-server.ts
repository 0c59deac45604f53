import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { AstraError, createNoopLogger, ErrorCode, type Logger, errorMessage } from '@astraflow/protocol';

/** A running {@link startFileServer}. */
export interface FileServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly baseUrl: string;
  /** Paths requested so far (decoded, as asked), oldest first. */
  readonly requests: string[];
  /** URL of `relativePath` under the served folder, each segment percent-encoded. */
  urlFor(relativePath: string): string;
  close(): Promise<void>;
}

/** Options of {@link startFileServer}. */
export interface FileServerOptions {
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  logger?: Logger;
}

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.tar': 'application/x-tar',
  '.txt': 'text/plain; charset=utf-8',
};

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Serves the files under `dir` over plain HTTP on an ephemeral port, for
 * package archives in install tests. Only GET and HEAD; nothing outside
 * `dir` is reachable (`..` and symbolic links out of it get 404).
 */
export async function startFileServer(dir: string, options: FileServerOptions = {}): Promise<FileServer> {
  const log = (options.logger ?? createNoopLogger()).child({ component: 'file-server' });
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `cannot serve ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  const requests: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    requests.push(pathname);
    const notFound = (): void => {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    };
    const candidate = resolve(root, `.${pathname}`);
    if (!isInside(root, candidate)) return notFound();
    let target: string;
    try {
      target = await realpath(candidate);
      if (!isInside(root, target) || !(await stat(target)).isFile()) return notFound();
    } catch {
      return notFound();
    }
    const size = (await stat(target)).size;
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(target).toLowerCase()] ?? 'application/octet-stream',
      'content-length': size,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(target)
      .on('error', (err) => {
        log.warn({ err, path: pathname }, 'read failed');
        res.destroy(err);
      })
      .pipe(res);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'file server failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, options.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  const baseUrl = `http://${host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    baseUrl,
    requests,
    urlFor: (relativePath) =>
      `${baseUrl}/${relativePath
        .split(/[\\/]+/)
        .filter(Boolean)
        .map(encodeURIComponent)
        .join('/')}`,
    close: () => {
      closing ??= new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
