import { randomInt } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  AstraError,
  createNoopLogger,
  ErrorCode,
  FrameType,
  type DrainPayload,
  type ExecDispatchPayload,
  type Frame,
  type Logger,
  type PayloadOf,
  type PkgInstallPayload,
  type PkgUninstallPayload,
} from '@astraflow/protocol';
import {
  createSchedulerCore,
  type DispatchHandle,
  type SchedulerCommandOptions,
  type SchedulerConnection,
  type SchedulerCore,
  type SchedulerFrameListener,
  type SchedulerSendOptions,
  type SchedulerSessionState,
} from '@astraflow/scheduler-sim';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { type CoreView, withCoreView } from './core-view.js';
import { FaultLane, noFaults, type Faults } from './faults.js';
import { startFileServer, type FileServer } from './file-server.js';
import { createPrng } from './prng.js';
import { createUpstreamSchemas } from './upstream-schemas.js';

/** Options of {@link startReferenceScheduler}. */
export interface ReferenceSchedulerOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** WebSocket path; other paths get 404. Default `/ws/worker`. */
  path?: string;
  /** Token the worker must present (handshake `auth.token` or `Authorization: Bearer`). None: any. */
  token?: string;
  /** Default `default`. */
  tenant?: string;
  /** Receive window advertised to the worker. Default 64. */
  windowSize?: number;
  /** Key of the session-token HMAC-SHA256. Default: random. */
  hmacSecret?: string | Uint8Array;
  /** Delay before each `control.session.accept`. Default 0. */
  acceptDelayMs?: number;
  /** Never send an accept. Default false. */
  suppressAccept?: boolean;
  /**
   * Refuse WebSocket upgrades with this HTTP status instead of resetting
   * after the handshake: with a `token`, upgrades lacking the right bearer
   * token; without one, every upgrade.
   */
  rejectUpgradeStatus?: number;
  /** First retransmission delay of an unacked outbound frame. Default 200. */
  retransmitBaseMs?: number;
  /** Cap of the doubling retransmission delay. Default 2000. */
  retransmitMaxMs?: number;
  /** Seed of the fault-injection PRNG. Default: random (see {@link ReferenceScheduler.seed}). */
  seed?: number;
  /**
   * Largest frame accepted from the worker; a bigger one closes the link
   * with 1009, as the real scheduler does. Default 32 MiB, its limit.
   */
  maxFrameBytes?: number;
  /** Initial faults; change them later through {@link ReferenceScheduler.faults}. */
  faults?: Partial<Faults>;
  /**
   * Accept `biz.pkg.event` status `uninstalled`, as a scheduler does that the worker's
   * `package_uninstall_event` setting was turned on for. Default false: like the existing
   * scheduler, every `biz.pkg.event` must pass the unchanged `pkg.event` schema, else it is a violation.
   */
  acceptUninstallEvents?: boolean;
  /**
   * Put the packages a worker registers into the catalog, which loads each manifest with the
   * unchanged manifest schema: a manifest that fails it is a violation. Default false (the
   * packages stay worker-local, so the older `node`-block form is fine).
   */
  catalog?: boolean;
  logger?: Logger;
}

/** A running reference scheduler. See {@link startReferenceScheduler}. */
export interface ReferenceScheduler {
  /** `ws://<host>:<port><path>`. */
  readonly url: string;
  readonly port: number;
  /** Seed of the fault PRNG: pass it back as `seed` to replay a run. */
  readonly seed: number;
  /** Every valid frame from the worker, in arrival order, duplicates included. */
  readonly received: Frame[];
  /** Business frames after the receive window: each once, in order. */
  readonly delivered: Frame[];
  readonly heartbeats: Frame[];
  readonly registers: Frame[];
  readonly handshakes: Frame[];
  readonly resumes: Frame[];
  /** Protocol violations by the worker, one line each. Tests expect it empty. */
  readonly violations: string[];
  /** WebSocket connections accepted. */
  readonly connections: number;
  /** `control.session.accept` frames sent (fresh and resumed). */
  readonly accepts: number;
  /** Outbound frames sent again for want of an ack. */
  readonly retransmissions: number;
  /** Upgrades refused because of `rejectUpgradeStatus`. */
  readonly upgradeRefusals: number;
  /** The current session, as the scheduler sees it. */
  readonly state: SchedulerSessionState;
  /** Mutable fault settings, applied to every frame from now on. */
  readonly faults: Faults;
  /** How many faults of each kind were injected so far. */
  readonly injected: InjectedFaults;
  acceptDelayMs: number;
  suppressAccept: boolean;
  rejectUpgradeStatus: number | undefined;
  /** The protocol engine behind it (shared with the dummy transport). */
  readonly core: SchedulerCore;
  /** Resolves with the current session's accept if it is up, else with the next accept sent. */
  waitForSession(filter?: { resumed?: boolean }, timeoutMs?: number): Promise<Frame<'control.session.accept'>>;
  /** First control frame received or business frame delivered that matches (history first). */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Reliable send: waits for a session and credit; resolves with the frame when it first went out. */
  send<T extends string>(type: T, payload: PayloadOf<T>, options?: SchedulerSendOptions): Promise<Frame<T>>;
  /** Sends a dispatch; `done` resolves with the `biz.exec.result`/`biz.exec.error` whose corr is `id`. */
  dispatch(payload: ExecDispatchPayload, options?: SchedulerCommandOptions): DispatchHandle;
  /** Sends `biz.pkg.install`; resolves with the `biz.pkg.event` whose corr is the command id. */
  installPackage(payload: PkgInstallPayload, options?: SchedulerCommandOptions): Promise<Frame>;
  /** Sends `biz.pkg.uninstall`; resolves with the `biz.pkg.event` whose corr is the command id. */
  uninstallPackage(payload: PkgUninstallPayload, options?: SchedulerCommandOptions): Promise<Frame>;
  /** Sends `control.reset`, closes the socket and forgets the session. False if no worker was connected. */
  reset(code: string, reason: string, retryAfterMs?: number): boolean;
  /** Sends `control.drain`. */
  drain(payload?: DrainPayload): Frame;
  /** Terminates the current socket without a close frame. False if no worker was connected. */
  kill(): boolean;
  /** Listens to control frames received and business frames delivered; returns the unsubscribe function. */
  onFrame(listener: SchedulerFrameListener): () => void;
  /** Sends raw text to the current connection. */
  emitRaw(text: string): void;
  /** Serves `dir` over HTTP until {@link ReferenceScheduler.close}. */
  serveFiles(dir: string): Promise<FileServer>;
  /** Closes every connection (1001), the server and any file servers. */
  close(): Promise<void>;
}

/** Counts of injected faults, by kind and direction. */
export type InjectedFaults = Pick<Faults, 'dropIn' | 'dupIn' | 'reorderIn' | 'dropOut' | 'dupOut' | 'reorderOut'>;

interface SocketEntry {
  ws: WebSocket;
  inLane: FaultLane;
  outLane: FaultLane;
}

function bearerOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
  return match?.[1];
}

function refuseUpgrade(socket: Duplex, status: number): void {
  const text = STATUS_CODES[status] ?? 'Refused';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

/**
 * Starts a reference AstraFlow scheduler on a real WebSocket server, for
 * end-to-end tests of workers. It plays the scheduler side of docs/protocol.md
 * §3–§5 (through the engine of `@astraflow/scheduler-sim`), retransmits
 * unacked frames, validates everything the worker sends, and injects
 * reproducible faults.
 *
 * @example
 * ```ts
 * const scheduler = await startReferenceScheduler({ token: 't0k3n' });
 * // start a worker with scheduler_ws_url = scheduler.url, auth_token = 't0k3n'
 * await scheduler.waitForSession();
 * const { done } = scheduler.dispatch(dispatchPayload);
 * expect((await done).type).toBe('biz.exec.result');
 * expect(scheduler.violations).toEqual([]);
 * await scheduler.close();
 * ```
 */
export async function startReferenceScheduler(options: ReferenceSchedulerOptions = {}): Promise<ReferenceScheduler> {
  const path = options.path ?? '/ws/worker';
  const seed = options.seed ?? randomInt(2 ** 31);
  const log = (options.logger ?? createNoopLogger()).child({ component: 'reference-scheduler' });
  const random = createPrng(seed);
  const faults: Faults = { ...noFaults(), ...options.faults };
  const injected: InjectedFaults = { dropIn: 0, dupIn: 0, reorderIn: 0, dropOut: 0, dupOut: 0, reorderOut: 0 };
  let rejectUpgradeStatus = options.rejectUpgradeStatus;
  let upgradeRefusals = 0;
  let closing: Promise<void> | undefined;

  const core = createSchedulerCore({
    tenant: options.tenant ?? 'default',
    ...(options.windowSize !== undefined ? { windowSize: options.windowSize } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.hmacSecret !== undefined ? { hmacSecret: options.hmacSecret } : {}),
    senderId: 'reference-scheduler',
    acceptDelayMs: options.acceptDelayMs ?? 0,
    suppressAccept: options.suppressAccept ?? false,
    retransmit: { baseMs: options.retransmitBaseMs ?? 200, maxMs: options.retransmitMaxMs ?? 2000 },
    shouldAck: (frame) => {
      const withhold = faults.withholdAcks;
      return typeof withhold === 'function' ? !withhold(frame) : !withhold;
    },
    logger: log,
  });

  // The existing scheduler's reactions to what it validates with its own, unchanged JSON Schemas.
  const upstream = createUpstreamSchemas();
  core.onFrame((frame) => {
    if (frame.type === FrameType.PKG_EVENT) {
      const status = (frame.payload as { status?: unknown }).status;
      if (options.acceptUninstallEvents === true && status === 'uninstalled') return;
      const verdict = upstream.pkgEvent(frame.payload);
      if (!verdict.valid)
        core.recordViolation(`biz.pkg.event ${frame.id} fails the scheduler's schema: ${verdict.errors.join('; ')}`);
    } else if (frame.type === FrameType.REGISTER && options.catalog === true) {
      const manifests = (frame.payload as { manifests?: Array<{ name?: string; version?: string; manifest?: unknown }> })
        .manifests;
      for (const entry of manifests ?? []) {
        const verdict = upstream.manifest(entry.manifest);
        if (!verdict.valid) {
          core.recordViolation(
            `manifest of ${entry.name ?? '?'}@${entry.version ?? '?'} would not load into the catalog: ${verdict.errors.join('; ')}`,
          );
        }
      }
    }
  });

  const sockets = new Map<number, SocketEntry>();
  const fileServers: FileServer[] = [];
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes ?? 32 * 1024 * 1024 });
  const server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8' }).end('WebSocket upgrade required\n');
  });

  const onSocket = (ws: WebSocket, bearer: string | undefined): void => {
    const onFault = (direction: 'In' | 'Out') => (kind: 'drop' | 'dup' | 'reorder') => {
      injected[`${kind}${direction}`]++;
      log.debug({ direction, kind }, 'fault injected');
    };
    const outLane = new FaultLane(
      () => ({
        drop: faults.dropOut,
        dup: faults.dupOut,
        reorder: faults.reorderOut,
        delayMs: faults.delayOutMs,
        scope: faults.scope,
      }),
      random,
      (text) => {
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
      },
      onFault('Out'),
    );
    const conn: SchedulerConnection = core.openConnection({
      send: (text) => outLane.push(text),
      close: (code, reason) => {
        // The reset (or a held frame) goes out before the close, even when delayed.
        outLane.flushHeld();
        const closeNow = (): void => {
          if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason);
        };
        if (faults.delayOutMs > 0) setTimeout(closeNow, faults.delayOutMs);
        else closeNow();
      },
      bearerToken: bearer,
    });
    const inLane = new FaultLane(
      () => ({ drop: faults.dropIn, dup: faults.dupIn, reorder: faults.reorderIn, delayMs: 0, scope: faults.scope }),
      random,
      (text) => conn.receive(text),
      onFault('In'),
    );
    sockets.set(conn.id, { ws, inLane, outLane });
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        core.recordViolation(`binary WebSocket message of ${textOf(data).length} bytes; frames are text`);
        return;
      }
      inLane.push(textOf(data));
    });
    ws.on('error', (err) => log.warn({ err, conn: conn.id }, 'socket error'));
    ws.on('close', (code, reason) => {
      log.debug({ conn: conn.id, code, reason: reason.toString('utf8') }, 'socket closed');
      inLane.dispose();
      outLane.dispose();
      conn.closed();
      sockets.delete(conn.id);
    });
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    if (closing !== undefined) return refuseUpgrade(socket, 503);
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== path) return refuseUpgrade(socket, 404);
    const bearer = bearerOf(req);
    if (rejectUpgradeStatus !== undefined && (options.token === undefined || bearer !== options.token)) {
      upgradeRefusals++;
      return refuseUpgrade(socket, rejectUpgradeStatus);
    }
    wss.handleUpgrade(req, socket, head, (ws) => onSocket(ws, bearer));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `ws://${address.includes(':') ? `[${address}]` : address}:${port}${path}`;
  log.info({ url, seed }, 'reference scheduler listening');

  const currentSocket = (): SocketEntry | undefined => {
    const conn = core.currentConnection();
    return conn === undefined ? undefined : sockets.get(conn.id);
  };

  const close = async (): Promise<void> => {
    core.dispose();
    const open = [...sockets.values()];
    await Promise.all(
      open.map(
        ({ ws, outLane }) =>
          new Promise<void>((done) => {
            outLane.dispose();
            if (ws.readyState === WebSocket.CLOSED) return done();
            ws.once('close', () => done());
            ws.close(1001, 'scheduler shutting down');
            // A peer that never answers the close frame must not hold the shutdown up.
            setTimeout(() => {
              ws.terminate();
              done();
            }, 300).unref();
          }),
      ),
    );
    wss.close();
    await new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    });
    await Promise.all(fileServers.map((fs) => fs.close()));
  };

  const scheduler: Omit<ReferenceScheduler, CoreView> = {
    url,
    port,
    seed,
    faults,
    injected,
    core,
    get upgradeRefusals() {
      return upgradeRefusals;
    },
    get rejectUpgradeStatus() {
      return rejectUpgradeStatus;
    },
    set rejectUpgradeStatus(value: number | undefined) {
      rejectUpgradeStatus = value;
    },
    waitForSession: (filter, timeoutMs) => core.waitForSession(filter, timeoutMs),
    waitFor: (predicate, timeoutMs) => core.waitFor(predicate, timeoutMs),
    send: (type, payload, sendOptions) => core.send(type, payload, sendOptions),
    dispatch: (payload, commandOptions) => core.dispatch(payload, commandOptions),
    installPackage: (payload, commandOptions) => core.installPackage(payload, commandOptions),
    uninstallPackage: (payload, commandOptions) => core.uninstallPackage(payload, commandOptions),
    reset: (code, reason, retryAfterMs) => core.reset(code, reason, retryAfterMs),
    drain: (payload) => core.drain(payload),
    kill: () => {
      const entry = currentSocket();
      if (entry === undefined) return false;
      entry.outLane.dispose();
      entry.ws.terminate();
      return true;
    },
    onFrame: (listener) => core.onFrame(listener),
    emitRaw: (text) => {
      if (currentSocket() === undefined) {
        throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'emitRaw: no worker is connected');
      }
      core.emitRaw(text);
    },
    serveFiles: async (dir) => {
      if (closing !== undefined) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler is closed');
      const files = await startFileServer(dir, { logger: log });
      fileServers.push(files);
      return files;
    },
    close: () => {
      closing ??= close();
      return closing;
    },
  };
  return withCoreView(scheduler, core);
}
