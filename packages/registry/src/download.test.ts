import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AstraError } from '@astraflow/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadArchive } from './download.js';

// Large enough that a consumer slower than loopback falls behind and would pause the parser.
const body = randomBytes(8 * 1024 * 1024);
const sha256 = createHash('sha256').update(body).digest('hex');

let dir: string;
const servers: (Server | HttpServer)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'astra-download-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const server of servers.splice(0)) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A raw TCP server: `serve` gets each connection once its request head arrived. */
async function rawServer(serve: (socket: Socket) => void): Promise<URL> {
  const server = createServer((socket) => {
    let head = '';
    socket.on('data', (data: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += data.toString('latin1');
      if (head.includes('\r\n\r\n')) serve(socket);
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return new URL(`http://127.0.0.1:${port}/pkg.tgz`);
}

async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<URL> {
  const server = createHttpServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return new URL(`http://127.0.0.1:${port}/pkg.tgz`);
}

let n = 0;
function fetch(url: URL, overrides: { maxBytes?: number; timeoutMs?: number } = {}) {
  return downloadArchive({
    url,
    dest: join(dir, `out-${++n}`),
    timeoutMs: overrides.timeoutMs ?? 10_000,
    maxBytes: overrides.maxBytes ?? 64 * 1024 * 1024,
    maxRedirects: 2,
  });
}

async function rejection(promise: Promise<unknown>): Promise<AstraError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(AstraError.isInstance(err)).toBe(true);
  return err as AstraError;
}

describe('downloadArchive over HTTP', () => {
  // Python's http.server answers like this; undici 7.30 crashed the process on it (nodejs/undici#5360).
  it('survives an HTTP/1.0 server that closes the connection right after the body', async () => {
    const url = await rawServer((socket) => {
      socket.write('HTTP/1.0 200 OK\r\nContent-Type: application/gzip\r\n\r\n');
      socket.end(body);
    });
    for (let i = 0; i < 3; i++) {
      const result = await fetch(url);
      expect(result).toEqual({ bytes: body.length, sha256 });
    }
  });

  it('survives a close right after a body with a declared length', async () => {
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      socket.end(body);
    });
    const dest = join(dir, 'declared');
    const result = await downloadArchive({ url, dest, timeoutMs: 10_000, maxBytes: body.length, maxRedirects: 0 });
    expect(result).toEqual({ bytes: body.length, sha256 });
    expect((await readFile(dest)).equals(body)).toBe(true);
  });

  it('reads a chunked body in many small pieces', async () => {
    const url = await httpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/gzip' });
      for (let offset = 0; offset < body.length; offset += 10_000) res.write(body.subarray(offset, offset + 10_000));
      res.end();
    });
    expect(await fetch(url)).toEqual({ bytes: body.length, sha256 });
  });

  it('fails cleanly when the server resets mid-body', async () => {
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 1024 * 1024), () => socket.resetAndDestroy());
    });
    const err = await rejection(fetch(url));
    expect(err.code).toBe('E.PKG.DOWNLOAD');
    expect(err.message).toMatch(/download of http:\/\/127\.0\.0\.1:\d+\/pkg\.tgz failed/);
  });

  // Without a length, a reset reads like the end of the body to undici; the manifest's sha256 is what
  // catches the short archive. What matters here: the worker lives and reports exactly what it got.
  it('survives an HTTP/1.0 body cut short by a reset', async () => {
    const sent = body.subarray(0, 1024 * 1024);
    const url = await rawServer((socket) => {
      socket.write('HTTP/1.0 200 OK\r\n\r\n');
      socket.write(sent, () => socket.resetAndDestroy());
    });
    const outcome = await fetch(url).then(
      (result) => result,
      (e: unknown) => e,
    );
    if (AstraError.isInstance(outcome)) {
      expect(outcome.code).toBe('E.PKG.DOWNLOAD');
    } else {
      // A reset drops whatever the kernels still held, so any prefix of what was sent may arrive.
      const got = outcome as { bytes: number; sha256: string };
      expect(got.bytes).toBeLessThanOrEqual(sent.length);
      expect(got.sha256).toBe(createHash('sha256').update(sent.subarray(0, got.bytes)).digest('hex'));
    }
  });

  it('follows redirects up to the limit and reports the status beyond it', async () => {
    let hops = 0;
    const url = await httpServer((req, res) => {
      if (req.url === '/pkg.tgz') {
        res.writeHead(302, { Location: '/hop' }).end();
      } else if (req.url === '/hop') {
        hops++;
        res.writeHead(200).end(body);
      }
    });
    expect(await fetch(url)).toEqual({ bytes: body.length, sha256 });
    expect(hops).toBe(1);
    const loop = await httpServer((_req, res) => res.writeHead(302, { Location: `/x${Math.random()}` }).end());
    const err = await rejection(fetch(loop));
    expect(err.message).toContain('too many redirects (limit 2)');
  });

  it('reports the HTTP status of a failed request', async () => {
    const url = await httpServer((_req, res) => res.writeHead(404).end('nope'));
    const err = await rejection(fetch(url));
    expect(err.code).toBe('E.PKG.DOWNLOAD');
    expect(err.details).toEqual({ status: 404 });
  });

  it('refuses a declared or streamed body above the limit', async () => {
    const declared = await httpServer((_req, res) => res.writeHead(200, { 'Content-Length': body.length }).end(body));
    expect((await rejection(fetch(declared, { maxBytes: 1000 }))).code).toBe('E.PKG.INVALID');
    const streamed = await rawServer((socket) => {
      socket.write('HTTP/1.0 200 OK\r\n\r\n');
      socket.end(body);
    });
    const err = await rejection(fetch(streamed, { maxBytes: 1000 }));
    expect(err.code).toBe('E.PKG.INVALID');
    expect(err.message).toContain('exceeds the download limit of 1000 bytes');
  });

  it('times out on a server that stalls mid-body', async () => {
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body.subarray(0, 1000));
    });
    const err = await rejection(fetch(url, { timeoutMs: 300 }));
    expect(err.code).toBe('E.PKG.DOWNLOAD');
    expect(err.message).toContain('timed out after 300 ms');
  });
});
