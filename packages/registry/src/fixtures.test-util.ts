import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { rawTgz, type RawEntry } from './raw-tar.test-util.js';

/** Lower-case hex sha256. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh temporary folder; remove it with `rm(dir, { recursive: true, force: true })`. */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `astra-registry-${prefix}-`));
}

/**
 * Every path under `dir` with its kind, size, mode, link target and a hash
 * of its content: two equal snapshots mean nothing was added, removed or changed.
 */
export async function snapshotTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string, rel: string): Promise<void> => {
    const entries = await readdir(current, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = join(current, entry.name);
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isSymbolicLink()) out.push(`L ${path} -> ${await readlink(full)}`);
      else if (entry.isDirectory()) {
        out.push(`D ${path}`);
        await walk(full, path);
      } else {
        const info = await stat(full);
        out.push(`F ${path} ${info.size} ${(info.mode & 0o777).toString(8)} ${sha256(await readFile(full))}`);
      }
    }
  };
  await walk(dir, '');
  return out;
}

/** A package's files, written into a gzipped tar under `package/` (as `npm pack` does). */
export function packageArchive(files: Record<string, string>, extra: readonly RawEntry[] = [], prefix = 'package/'): Buffer {
  const entries: RawEntry[] = Object.entries(files).map(([path, body]) => ({ path: prefix + path, body }));
  return rawTgz([...entries, ...extra]);
}

/** Writes `data` to `<dir>/<name>` and returns its `file:` URL. */
export async function fileUrlOf(dir: string, name: string, data: Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return pathToFileURL(path).href;
}

/** A loopback HTTP server serving archives and the failure modes downloads must survive. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  base: string;
  /** Serves `data` at `/files/<name>`. */
  put(name: string, data: Buffer): string;
  /** Requests seen, by path. */
  hits: string[];
  close(): Promise<void>;
}

/**
 * Routes: `/files/<name>` (what `put` registered, else 404), `/status/<code>`,
 * `/hang` (accepts, never answers), `/redirect/<n>/<name>` (n hops, then the file).
 */
export async function startTestServer(): Promise<TestServer> {
  const files = new Map<string, Buffer>();
  const hits: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    hits.push(url.pathname);
    const parts = url.pathname.split('/').filter((p) => p !== '');
    if (parts[0] === 'files' && parts[1] !== undefined) {
      const data = files.get(decodeURIComponent(parts[1]));
      if (data === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': data.length }).end(data);
      return;
    }
    if (parts[0] === 'status' && parts[1] !== undefined) {
      res.writeHead(Number(parts[1])).end('failure');
      return;
    }
    if (parts[0] === 'hang') return;
    if (parts[0] === 'redirect' && parts[1] !== undefined && parts[2] !== undefined) {
      const left = Number(parts[1]);
      const location = left <= 1 ? `/files/${parts[2]}` : `/redirect/${left - 1}/${parts[2]}`;
      res.writeHead(302, { location }).end();
      return;
    }
    res.writeHead(404).end();
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    hits,
    put(name, data) {
      files.set(name, data);
      return `${base}/files/${encodeURIComponent(name)}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Removes a temporary folder. */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** A minimal valid manifest for a node package with one adapter. */
export function nodeManifest(
  name: string,
  version: string,
  nodes: Array<{ type: string; handler: string; config?: Record<string, unknown> }>,
  entrypoint = 'adapters/main.js',
  adapterMetadata?: Record<string, unknown>,
): string {
  return JSON.stringify({
    schemaVersion: '1.0.0',
    name,
    version,
    description: `${name} test package`,
    adapters: [
      {
        name: 'main',
        entrypoint,
        capabilities: nodes.map((n) => n.type),
        ...(adapterMetadata === undefined ? {} : { metadata: adapterMetadata }),
      },
    ],
    node: { requires: '>=20' },
    nodes: nodes.map((n) => ({
      type: n.type,
      status: 'published',
      category: 'Test',
      label: n.type,
      adapter: 'main',
      handler: n.handler,
      config: n.config ?? {},
      schema: true,
    })),
  });
}
