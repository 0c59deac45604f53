/**
 * Real peers for the transport tests: a `ws` server, HTTP servers that
 * refuse the upgrade, a silent TCP server and a stallable TCP proxy, all on
 * 127.0.0.1 with an ephemeral port. Test-only (excluded from the package).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createConnection, createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { AstraError, type Logger, type LogLevel, type TransportCloseInfo, type TransportHandlers } from '@astraflow/protocol';
import { expect } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';

/** Things to close after each test. */
const cleanups: Array<() => Promise<void>> = [];

/** Closes everything the helpers started; call from `afterEach`. */
export async function closeAllPeers(): Promise<void> {
  const pending = cleanups.splice(0);
  await Promise.all(pending.map((fn) => fn().catch(() => undefined)));
}

function portOf(server: Server | HttpServer): number {
  return (server.address() as AddressInfo).port;
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(portOf(server)));
  });
}

function trackHttp(server: HttpServer, sockets: Set<Socket>): void {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
}

function closeServer(server: Server | HttpServer, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A running `ws` server. */
export interface WsPeer {
  url: string;
  port: number;
  wss: WebSocketServer;
  /** The next accepted server-side socket and its upgrade request. */
  nextConnection(): Promise<{ socket: WebSocket; request: IncomingMessage }>;
}

/** TLS settings of a {@link startWsPeer} server; `clientCa` turns on mandatory client certificates. */
export interface PeerTls {
  cert: string;
  key: string;
  clientCa?: string;
}

/** Starts a `ws` server (over TLS when `tls` is given); it echoes nothing unless told to. */
export async function startWsPeer(tls?: PeerTls): Promise<WsPeer> {
  const server =
    tls === undefined
      ? createHttpServer()
      : createHttpsServer(
          tls.clientCa === undefined
            ? { cert: tls.cert, key: tls.key }
            : { cert: tls.cert, key: tls.key, ca: tls.clientCa, requestCert: true, rejectUnauthorized: true },
        );
  const sockets = new Set<Socket>();
  trackHttp(server, sockets);
  const wss = new WebSocketServer({ server });
  const queue: Array<{ socket: WebSocket; request: IncomingMessage }> = [];
  const waiters: Array<(c: { socket: WebSocket; request: IncomingMessage }) => void> = [];
  wss.on('connection', (socket, request) => {
    socket.on('error', () => undefined);
    const entry = { socket, request };
    const waiter = waiters.shift();
    if (waiter) waiter(entry);
    else queue.push(entry);
  });
  const port = await listen(server);
  cleanups.push(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await closeServer(server, sockets);
  });
  return {
    url: `${tls === undefined ? 'ws' : 'wss'}://127.0.0.1:${port}/ws/worker`,
    port,
    wss,
    nextConnection: () => {
      const ready = queue.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** Starts an HTTP server that answers every upgrade request with `status`. */
export function startRefusingPeer(status: number): Promise<string> {
  return startRawUpgradePeer(`HTTP/1.1 ${status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Starts an HTTP server that answers every upgrade request with the raw `response` bytes. */
export async function startRawUpgradePeer(response: string): Promise<string> {
  const server = createHttpServer();
  const sockets = new Set<Socket>();
  trackHttp(server, sockets);
  server.on('upgrade', (_req: IncomingMessage, socket: Socket) => {
    socket.end(response);
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server, sockets));
  return `ws://127.0.0.1:${port}/ws/worker`;
}

/** Starts a TCP server that accepts connections and never says a word. */
export async function startSilentPeer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server, sockets));
  return `ws://127.0.0.1:${port}/ws/worker`;
}

/** A port on 127.0.0.1 that nothing listens on (it was just released). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP proxy in front of a peer that can be told to stop forwarding. */
export interface StallableProxy {
  port: number;
  /** From now on bytes are swallowed in both directions; sockets stay open. */
  stall(): void;
}

/** Starts a TCP proxy to `127.0.0.1:targetPort`. */
export async function startProxy(targetPort: number): Promise<StallableProxy> {
  const sockets = new Set<Socket>();
  let stalled = false;
  const server = createNetServer((client) => {
    const upstream = createConnection(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.on('data', (chunk) => {
      if (!stalled) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!stalled) client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await listen(server);
  cleanups.push(() => closeServer(server, sockets));
  return {
    port,
    stall: () => {
      stalled = true;
    },
  };
}

/** Handlers that record what the transport reports. */
export interface Recorder extends TransportHandlers {
  messages: string[];
  closes: TransportCloseInfo[];
  /** Resolves with the next message (or one already received but not yet taken). */
  nextMessage(): Promise<string>;
  /** Resolves with the first close. */
  closed: Promise<TransportCloseInfo>;
}

/** Creates a {@link Recorder}. */
export function recorder(): Recorder {
  const messages: string[] = [];
  const closes: TransportCloseInfo[] = [];
  let taken = 0;
  const waiters: Array<(m: string) => void> = [];
  let resolveClosed: (info: TransportCloseInfo) => void = () => undefined;
  const closed = new Promise<TransportCloseInfo>((resolve) => {
    resolveClosed = resolve;
  });
  return {
    messages,
    closes,
    closed,
    onMessage(data) {
      messages.push(data);
      const waiter = waiters.shift();
      if (waiter) {
        taken += 1;
        waiter(data);
      }
    },
    onClose(info) {
      closes.push(info);
      resolveClosed(info);
    },
    nextMessage() {
      if (taken < messages.length) {
        const m = messages[taken] as string;
        taken += 1;
        return Promise.resolve(m);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** One recorded log call. */
export interface LogEntry {
  level: LogLevel;
  fields: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every call, to check what gets logged (and what never does). */
export function captureLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogLevel) =>
      (objOrMsg: Record<string, unknown> | string, msg?: string): void => {
        if (typeof objOrMsg === 'string') entries.push({ level, fields: { ...bindings }, msg: objOrMsg });
        else entries.push({ level, fields: { ...bindings, ...objOrMsg }, msg });
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      child: (more) => make({ ...bindings, ...more }),
      isLevelEnabled: () => true,
    };
  };
  return { logger: make({}), entries };
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Awaits a promise that must reject with an `AstraError`, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<AstraError> {
  try {
    await promise;
  } catch (err) {
    expect(AstraError.isInstance(err)).toBe(true);
    return err as AstraError;
  }
  throw new Error('expected the promise to reject');
}
