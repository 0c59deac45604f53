import { randomBytes, randomUUID } from 'node:crypto';
import {
  AstraError,
  buildFrame,
  createNoopLogger,
  ErrorCode,
  FrameType,
  isControlType,
  isFrameOfType,
  ReceiveWindow,
  SendWindow,
  type DrainPayload,
  type ExecDispatchPayload,
  type Frame,
  type Logger,
  type PayloadOf,
  type PkgInstallPayload,
  type PkgUninstallPayload,
} from '@astraflow/protocol';
import { checkWorkerFrame } from './check-worker-frame.js';
import { FrameLog } from './frame-log.js';
import { buildAckFrame, signSessionToken, verifySessionToken, type SchedulerIdentity } from './scheduler-frames.js';

/** Retransmission timing of unacked outbound frames: `baseMs · 2^attempt`, capped at `maxMs`. */
export interface RetransmitPolicy {
  baseMs: number;
  maxMs: number;
}

/** Options of {@link createSchedulerCore}. */
export interface SchedulerCoreOptions {
  /** Tenant every worker frame must carry, and that scheduler frames carry. Default `default`. */
  tenant?: string;
  /** Receive window advertised to the worker (`recv_window`). Default 64. */
  windowSize?: number;
  /** When set, the handshake must present it (payload `auth.token` or the upgrade's bearer token). */
  token?: string;
  /** Key of the session-token HMAC. Default: random per core. */
  hmacSecret?: string | Uint8Array;
  /** `sender.id` of scheduler frames. Default `astraflow-scheduler`. */
  senderId?: string;
  /** Wait this long after register (or resume) before sending the accept. Default 0. */
  acceptDelayMs?: number;
  /** Never send an accept (to exercise the worker's accept timeout). Default false. */
  suppressAccept?: boolean;
  /** Retransmit unacked outbound frames while connected; `false` (default) for a lossless link. */
  retransmit?: RetransmitPolicy | false;
  /** Lifetime advertised in `expires_at`; a resume after it is refused. Default one hour. */
  sessionTtlMs?: number;
  /** Return false to leave an inbound reliable frame unacked (it is still delivered). Default: ack all. */
  shouldAck?: (frame: Frame) => boolean;
  logger?: Logger;
}

/** How the core reaches one connected worker. Implemented by each transport double. */
export interface SchedulerLink {
  /** Sends one text frame to the worker. Must not call back into the core synchronously. */
  send(text: string): void;
  /** Closes the connection from the scheduler side; the transport later reports it with `closed()`. */
  close(code: number, reason: string): void;
  /** Bearer token from the connection's upgrade request, if the transport has one. */
  readonly bearerToken?: string | undefined;
}

/** The core's handle on one connection; the transport feeds it. */
export interface SchedulerConnection {
  /** 1-based connection number. */
  readonly id: number;
  /** False once the connection closed or the scheduler began closing it. */
  readonly isOpen: boolean;
  /** One text frame from the worker. */
  receive(raw: string): void;
  /** The connection has gone (either side); idempotent. */
  closed(): void;
}

/** Envelope options of an outbound reliable frame. */
export interface SchedulerSendOptions {
  /** Envelope id; default a fresh UUID. */
  id?: string;
  corr?: string | null;
  /** Legacy `seq`, echoed back by the worker in replies. */
  seq?: number | null;
  tamper?: FrameTamper;
}

/**
 * Fault injection: rewrites a numbered frame (session_seq already set) into
 * what actually goes on the wire, on every (re)transmission; e.g. adds an
 * unknown envelope key or breaks the payload, which the scheduler's own
 * validation would otherwise refuse to send. A string is sent as is (for
 * text `JSON.stringify` cannot produce, such as 50 000-deep nesting).
 */
export type FrameTamper = (frame: Frame) => Record<string, unknown> | string;

/** Wire text of a tampered frame that is sent verbatim. */
const RAW_TEXT = Symbol('rawText');

/** Options of {@link SchedulerCore.dispatch} and the package commands. */
export interface SchedulerCommandOptions {
  id?: string;
  seq?: number | null;
  tamper?: FrameTamper;
  /** How long to wait for the answer; `0` waits forever. Default 30 000 (dispatch) / 60 000 (packages). */
  timeoutMs?: number;
}

/** A dispatch in flight: its envelope id and the promise of the worker's answer. */
export interface DispatchHandle {
  id: string;
  /** Resolves with the `biz.exec.result` or `biz.exec.error` whose `corr` is `id`. */
  done: Promise<Frame>;
}

/** Where the latest connection stands. */
export type SchedulerPhase = 'disconnected' | 'connected' | 'handshaken' | 'registered' | 'resuming' | 'ready';

/** A snapshot of the scheduler's view of the worker. */
export interface SchedulerSessionState {
  phase: SchedulerPhase;
  sessionId: string | null;
  sessionToken: string | null;
  workerInstanceId: string | null;
  /** The current session was last accepted by a resume. */
  resumed: boolean;
  /** Highest worker `session_seq` delivered in order. */
  recvBase: number;
  /** The `session_seq` the next outbound frame gets. */
  nextSendSeq: number;
  /** Outbound frames sent and not yet acked. */
  unacked: number;
  /** Outbound frames waiting for a session or for credit. */
  queued: number;
  /** Outbound credit: the worker's advertised window (1 until it first acks). */
  sendWindow: number;
}

/** Called for each control frame received and each business frame delivered (in order, once). */
export type SchedulerFrameListener = (frame: Frame, kind: 'control' | 'delivered') => void;

interface Outbound {
  frame: Frame;
  tamper?: FrameTamper | undefined;
  resolve: (frame: Frame) => void;
  reject: (error: unknown) => void;
}

type ConnPhase = Exclude<SchedulerPhase, 'disconnected'> | 'closed';

interface Conn {
  id: number;
  link: SchedulerLink;
  phase: ConnPhase;
  workerInstanceId: string | undefined;
  handshakeId: string | undefined;
  registerId: string | undefined;
  resumeId: string | undefined;
  accept: Frame | undefined;
  acceptTimer: ReturnType<typeof setTimeout> | undefined;
}

interface Session {
  id: string;
  token: string;
  workerInstanceId: string;
  expiresAt: Date;
  recv: ReceiveWindow<Frame>;
  send: SendWindow<Frame>;
  creditLearned: boolean;
  conn: Conn | undefined;
  resumed: boolean;
  retries: Map<number, ReturnType<typeof setTimeout>>;
}

const noop = (): void => {};

/** Close reasons travel in a WebSocket close frame, which allows 123 bytes. */
function shortReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${reason.slice(0, 100)}…`;
}

/**
 * The scheduler side of the AstraFlow session protocol (PROTOCOL.md §3–§5),
 * independent of any transport: handshake and token check, register, accept,
 * resume, reset, the receive window with its acks, and a reliable send window
 * with optional retransmission. The dummy transport drives it in memory and
 * `@astraflow/testkit` over a real WebSocket server.
 *
 * Every worker frame is checked with {@link checkWorkerFrame}; what fails is
 * described in {@link SchedulerCore.violations} and otherwise ignored.
 */
export class SchedulerCore {
  /** Tenant expected on worker frames and put on scheduler frames. */
  readonly tenant: string;
  /** Receive window advertised to the worker. */
  readonly windowSize: number;
  /** Envelope identity of scheduler frames. */
  readonly identity: SchedulerIdentity;
  /** Delay before each accept; may be changed at any time. */
  acceptDelayMs: number;
  /** Withhold accepts; may be changed at any time (affects the next register/resume). */
  suppressAccept: boolean;
  /** See {@link SchedulerCoreOptions.shouldAck}; may be replaced at any time. */
  shouldAck: (frame: Frame) => boolean;

  readonly #token: string | undefined;
  readonly #secret: string | Uint8Array;
  readonly #retransmit: RetransmitPolicy | false;
  readonly #ttlMs: number;
  readonly #log: Logger;

  readonly #received = new FrameLog<Frame>();
  readonly #timeline = new FrameLog<Frame>();
  readonly #acceptLog = new FrameLog<Frame>();
  readonly #delivered: Frame[] = [];
  readonly #heartbeats: Frame[] = [];
  readonly #registers: Frame[] = [];
  readonly #handshakes: Frame[] = [];
  readonly #resumes: Frame[] = [];
  readonly #violations: string[] = [];
  readonly #listeners = new Set<SchedulerFrameListener>();

  readonly #conns = new Set<Conn>();
  #latest: Conn | undefined;
  #session: Session | undefined;
  readonly #queue: Outbound[] = [];
  #connections = 0;
  #accepts = 0;
  #retransmissions = 0;
  #disposed = false;

  constructor(options: SchedulerCoreOptions = {}) {
    const windowSize = options.windowSize ?? 64;
    if (!Number.isInteger(windowSize) || windowSize < 1) {
      throw new AstraError(ErrorCode.CONFIG_INVALID, `windowSize must be an integer ≥ 1, got ${windowSize}`);
    }
    const retransmit = options.retransmit ?? false;
    if (retransmit !== false && !(retransmit.baseMs > 0 && retransmit.maxMs >= retransmit.baseMs)) {
      throw new AstraError(ErrorCode.CONFIG_INVALID, 'retransmit needs baseMs > 0 and maxMs ≥ baseMs');
    }
    this.tenant = options.tenant ?? 'default';
    this.windowSize = windowSize;
    this.identity = { tenant: this.tenant, senderId: options.senderId ?? 'astraflow-scheduler' };
    this.acceptDelayMs = options.acceptDelayMs ?? 0;
    this.suppressAccept = options.suppressAccept ?? false;
    this.shouldAck = options.shouldAck ?? (() => true);
    this.#token = options.token;
    this.#secret = options.hmacSecret ?? randomBytes(32);
    this.#retransmit = retransmit;
    this.#ttlMs = options.sessionTtlMs ?? 3_600_000;
    this.#log = options.logger ?? createNoopLogger();
  }

  /** Every worker frame that passed validation, in arrival order, duplicates included. */
  get received(): Frame[] {
    return this.#received.items;
  }
  /** Business frames after the receive window: each `session_seq` once, in order. */
  get delivered(): Frame[] {
    return this.#delivered;
  }
  /** `control.heartbeat` frames received. */
  get heartbeats(): Frame[] {
    return this.#heartbeats;
  }
  /** Distinct `control.register` frames (retransmissions of the same id are not repeated). */
  get registers(): Frame[] {
    return this.#registers;
  }
  /** `control.handshake` frames received (one per connection that tried). */
  get handshakes(): Frame[] {
    return this.#handshakes;
  }
  /** `control.resume` frames received, valid or not. */
  get resumes(): Frame[] {
    return this.#resumes;
  }
  /** One line per protocol violation by the worker. Tests expect it empty. */
  get violations(): string[] {
    return this.#violations;
  }
  /** Every `control.session.accept` sent, oldest first. */
  get acceptsSent(): Frame[] {
    return this.#acceptLog.items;
  }
  /** Connections opened so far. */
  get connections(): number {
    return this.#connections;
  }
  /** Accepts sent so far (fresh and resumed). */
  get accepts(): number {
    return this.#accepts;
  }
  /** Outbound frames sent again because their ack was late. */
  get retransmissions(): number {
    return this.#retransmissions;
  }

  /** A snapshot of the current session and connection. */
  get state(): SchedulerSessionState {
    const s = this.#session;
    const latest = this.#latest;
    const phase: SchedulerPhase =
      latest === undefined || latest.phase === 'closed' ? 'disconnected' : latest.phase;
    return {
      phase,
      sessionId: s?.id ?? null,
      sessionToken: s?.token ?? null,
      workerInstanceId: s?.workerInstanceId ?? null,
      resumed: s?.resumed ?? false,
      recvBase: s?.recv.base ?? 0,
      nextSendSeq: s?.send.nextSeq ?? 1,
      unacked: s?.send.inflight ?? 0,
      queued: this.#queue.length,
      sendWindow: s?.send.size ?? 1,
    };
  }

  /** Starts tracking a new connection; the transport feeds its frames through the returned handle. */
  openConnection(link: SchedulerLink): SchedulerConnection {
    if (this.#disposed) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler is closed');
    const conn: Conn = {
      id: ++this.#connections,
      link,
      phase: 'connected',
      workerInstanceId: undefined,
      handshakeId: undefined,
      registerId: undefined,
      resumeId: undefined,
      accept: undefined,
      acceptTimer: undefined,
    };
    this.#conns.add(conn);
    this.#latest = conn;
    this.#log.debug({ conn: conn.id }, 'worker connected');
    return {
      id: conn.id,
      get isOpen() {
        return conn.phase !== 'closed';
      },
      receive: (raw) => this.#receive(conn, raw),
      closed: () => this.#closed(conn),
    };
  }

  /**
   * Sends a business frame on the reliable stream: it waits for a session
   * and for credit, gets the next `session_seq` and `ack.request`, and is
   * resent unchanged until acked (after a resume; and on a timer when
   * retransmission is on). Resolves with the frame once it first went out.
   * Frames unacked when a fresh session replaces the old one are sent again
   * in the new session, with new sequence numbers and the same ids.
   */
  send<T extends string>(type: T, payload: PayloadOf<T>, options: SchedulerSendOptions = {}): Promise<Frame<T>> {
    let frame: Frame<T>;
    try {
      frame = this.#prepare(type, payload, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(frame, options.tamper);
  }

  /** Sends `biz.exec.dispatch` and watches for its answer. Never throws: errors arrive through `done`. */
  dispatch(payload: ExecDispatchPayload, options: SchedulerCommandOptions = {}): DispatchHandle {
    const id = options.id ?? randomUUID();
    const done = this.#command(FrameType.EXEC_DISPATCH, payload, id, options, 30_000, (f) =>
      (f.type === FrameType.EXEC_RESULT || f.type === FrameType.EXEC_ERROR) && f.corr === id,
    );
    return { id, done };
  }

  /** Sends `biz.pkg.install`; resolves with the `biz.pkg.event` answering it. */
  installPackage(payload: PkgInstallPayload, options: SchedulerCommandOptions = {}): Promise<Frame> {
    const id = options.id ?? randomUUID();
    return this.#command(FrameType.PKG_INSTALL, payload, id, options, 60_000, (f) =>
      f.type === FrameType.PKG_EVENT && f.corr === id,
    );
  }

  /** Sends `biz.pkg.uninstall`; resolves with the `biz.pkg.event` answering it. */
  uninstallPackage(payload: PkgUninstallPayload, options: SchedulerCommandOptions = {}): Promise<Frame> {
    const id = options.id ?? randomUUID();
    return this.#command(FrameType.PKG_UNINSTALL, payload, id, options, 60_000, (f) =>
      f.type === FrameType.PKG_EVENT && f.corr === id,
    );
  }

  /**
   * Sends `control.reset` to the current connection and closes it (1008
   * for `E.AUTH.*` codes, else 1000), and forgets the session: a later
   * resume is refused with `E.SESSION.UNKNOWN`. Returns whether a worker was
   * connected to receive it.
   */
  reset(code: string, reason: string, retryAfterMs?: number): boolean {
    const conn = this.#current();
    this.#endSession();
    if (conn === undefined) return false;
    this.#sendReset(conn, code, reason, retryAfterMs);
    return true;
  }

  /** Sends `control.drain` to the current connection. */
  drain(payload: DrainPayload = {}): Frame {
    const conn = this.#requireCurrent('drain');
    const frame = buildFrame(FrameType.DRAIN, payload, this.#envelope());
    this.#transmit(conn, frame);
    return frame;
  }

  /** Sends `text` unchanged to the current connection (for garbage tests). */
  emitRaw(text: string): void {
    this.#requireCurrent('emitRaw').link.send(text);
  }

  /** The connection outbound traffic goes to: the session's, else the latest open one. */
  currentConnection(): SchedulerConnection | undefined {
    const conn = this.#current();
    if (conn === undefined) return undefined;
    return {
      id: conn.id,
      get isOpen() {
        return conn.phase !== 'closed';
      },
      receive: (raw) => this.#receive(conn, raw),
      closed: () => this.#closed(conn),
    };
  }

  /** Waits for a control frame received or a business frame delivered, scanning history first. */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.#timeline.waitFor(predicate, { timeoutMs, what: 'matching worker frame' });
  }

  /**
   * Resolves with the accept of the current session when one is up on an
   * open connection (and matches `resumed`), else with the next accept sent.
   */
  waitForSession(filter: { resumed?: boolean } = {}, timeoutMs = 5000): Promise<Frame<'control.session.accept'>> {
    const matches = (f: Frame): boolean =>
      filter.resumed === undefined || ((f.payload as { resumed?: unknown }).resumed === true) === filter.resumed;
    const conn = this.#session?.conn;
    if (conn !== undefined && conn.phase === 'ready' && conn.accept !== undefined && matches(conn.accept)) {
      return Promise.resolve(conn.accept as Frame<'control.session.accept'>);
    }
    const what = filter.resumed === undefined ? 'session accept' : `session accept (resumed: ${filter.resumed})`;
    return this.#acceptLog.waitFor(matches, { timeoutMs, scanHistory: false, what }) as Promise<
      Frame<'control.session.accept'>
    >;
  }

  /** Records a violation the transport detected itself (e.g. a binary WebSocket message). */
  recordViolation(text: string): void {
    this.#log.warn({ violation: text }, 'protocol violation by worker');
    this.#violations.push(text);
  }

  /** Subscribes to frames as {@link SchedulerFrameListener} describes; returns the unsubscribe function. */
  onFrame(listener: SchedulerFrameListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Stops every timer and rejects pending sends and waiters. The transport closes its connections. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const error = new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler closed');
    for (const conn of this.#conns) this.#detach(conn);
    if (this.#session !== undefined) this.#stopRetries(this.#session);
    for (const out of this.#queue.splice(0)) out.reject(error);
    this.#timeline.cancelAll(error);
    this.#acceptLog.cancelAll(error);
    this.#received.cancelAll(error);
  }

  // ---- inbound ----

  #receive(conn: Conn, raw: string): void {
    if (conn.phase === 'closed' || this.#disposed) return;
    const check = checkWorkerFrame(raw, { tenant: this.tenant });
    if (!check.ok) {
      this.#violation(conn, check.violation);
      const frame = check.frame;
      if (
        frame !== undefined &&
        frame.tenant !== this.tenant &&
        (frame.type === FrameType.HANDSHAKE || frame.type === FrameType.RESUME)
      ) {
        this.#sendReset(conn, ErrorCode.SESSION_TENANT_MISMATCH, `this scheduler serves tenant ${this.tenant}`);
      }
      return;
    }
    const frame = check.frame;
    this.#log.debug({ conn: conn.id, type: frame.type, id: frame.id, seq: frame.session_seq }, 'frame in');
    this.#received.push(frame);
    if (conn.phase === 'ready' && this.#session?.conn === conn && frame.sender.id !== this.#session.workerInstanceId) {
      this.#violation(
        conn,
        `${frame.type} ${frame.id}: sender.id '${frame.sender.id}' is not the session's worker_instance_id '${this.#session.workerInstanceId}'`,
      );
    }
    if (!isControlType(frame.type)) {
      this.#onReliable(conn, frame);
      return;
    }
    if (isFrameOfType(frame, FrameType.HANDSHAKE)) this.#onHandshake(conn, frame);
    else if (isFrameOfType(frame, FrameType.REGISTER)) this.#onRegister(conn, frame);
    else if (isFrameOfType(frame, FrameType.RESUME)) this.#onResume(conn, frame);
    else if (isFrameOfType(frame, FrameType.ACK)) this.#onAck(conn, frame);
    else if (isFrameOfType(frame, FrameType.HEARTBEAT)) {
      if (conn.phase !== 'ready') this.#violation(conn, `control.heartbeat ${frame.id}: sent before the session accept`);
      this.#heartbeats.push(frame);
    } else {
      this.#violation(conn, `${frame.type} ${frame.id}: not a frame type a worker sends`);
    }
    this.#timeline.push(frame);
    this.#emit(frame, 'control');
  }

  #onHandshake(conn: Conn, frame: Frame<'control.handshake'>): void {
    if (conn.phase !== 'connected') {
      if (frame.id === conn.handshakeId) this.#transmit(conn, buildAckFrame(this.identity, frame));
      else this.#violation(conn, `control.handshake ${frame.id}: connection already past its handshake`);
      return;
    }
    this.#handshakes.push(frame);
    const { auth, worker } = frame.payload;
    if (this.#token !== undefined) {
      const offered = auth.mode === 'token' ? (auth.token ?? undefined) : undefined;
      const bearer = conn.link.bearerToken;
      if (offered !== this.#token && bearer !== this.#token) {
        const missing = !offered && !bearer;
        this.#sendReset(
          conn,
          missing ? ErrorCode.AUTH_MISSING_TOKEN : ErrorCode.AUTH_INVALID_TOKEN,
          missing ? 'a token is required' : 'token rejected',
        );
        return;
      }
    }
    conn.phase = 'handshaken';
    conn.handshakeId = frame.id;
    conn.workerInstanceId = worker.worker_instance_id ?? undefined;
    this.#transmit(conn, buildAckFrame(this.identity, frame));
  }

  #onRegister(conn: Conn, frame: Frame<'control.register'>): void {
    if (conn.phase === 'connected' || conn.phase === 'resuming') {
      this.#violation(conn, `control.register ${frame.id}: sent before a handshake`);
      this.#sendReset(conn, ErrorCode.AUTH_HANDSHAKE_REQUIRED, 'handshake before register');
      return;
    }
    if (frame.id !== conn.registerId) this.#registers.push(frame);
    this.#transmit(conn, buildAckFrame(this.identity, frame));
    if (conn.phase !== 'handshaken') return;
    conn.phase = 'registered';
    conn.registerId = frame.id;
    this.#scheduleAccept(conn, () => this.#acceptFresh(conn));
  }

  #onResume(conn: Conn, frame: Frame<'control.resume'>): void {
    if (conn.phase !== 'connected') {
      if (frame.id === conn.resumeId) this.#transmit(conn, buildAckFrame(this.identity, frame));
      else this.#violation(conn, `control.resume ${frame.id}: only valid as the first frame of a connection`);
      return;
    }
    this.#resumes.push(frame);
    const { session_id: sessionId, session_token: token, last_seen_seq: lastSeen } = frame.payload;
    const session = this.#session;
    if (session === undefined || session.id !== sessionId || session.expiresAt.getTime() <= Date.now()) {
      this.#sendReset(conn, ErrorCode.SESSION_UNKNOWN, 'no such session; handshake afresh');
      return;
    }
    if (!verifySessionToken(this.#secret, session.id, token)) {
      this.#sendReset(conn, ErrorCode.SESSION_INVALID_TOKEN, 'session token rejected; handshake afresh');
      return;
    }
    this.#transmit(conn, buildAckFrame(this.identity, frame));
    conn.phase = 'resuming';
    conn.resumeId = frame.id;
    const previous = session.conn;
    if (previous !== undefined && previous !== conn && previous.phase !== 'closed') {
      // The worker came back on a new connection while the old one looked alive (half-open): retire it.
      this.#detach(previous);
      previous.link.close(4000, 'session resumed on another connection');
    }
    this.#scheduleAccept(conn, () => this.#acceptResume(conn, session, lastSeen ?? 0));
  }

  #onAck(conn: Conn, frame: Frame<'control.ack'>): void {
    const session = this.#session;
    if (session === undefined || session.conn !== conn) return;
    const p = frame.payload;
    const released = session.send.ack({
      for: p.for ?? frame.ack?.for ?? null,
      ack_seq: p.ack_seq ?? null,
      ack_bitmap: p.ack_bitmap ?? null,
      recv_window: p.recv_window ?? null,
    });
    if (typeof p.recv_window === 'number') {
      session.send.size = p.recv_window;
      session.creditLearned = true;
    } else if (!session.creditLearned && released.length > 0) {
      // An ack without recv_window: assume the worker uses the configured window.
      session.send.size = this.windowSize;
      session.creditLearned = true;
    }
    for (const entry of released) this.#stopRetry(session, entry.seq);
    this.#pump();
  }

  #onReliable(conn: Conn, frame: Frame): void {
    const session = this.#session;
    if (session === undefined || session.conn !== conn || conn.phase !== 'ready') {
      this.#violation(conn, `${frame.type} ${frame.id}: business frame outside an accepted session`);
      return;
    }
    const seq = frame.session_seq as number;
    const { status, delivered } = session.recv.offer(seq, frame);
    if (status !== 'accepted') this.#log.debug({ conn: conn.id, seq, status }, 'frame not delivered');
    if (this.shouldAck(frame)) this.#transmit(conn, buildAckFrame(this.identity, frame, session.recv.ackState()));
    for (const item of delivered) {
      this.#delivered.push(item);
      this.#timeline.push(item);
      this.#emit(item, 'delivered');
    }
  }

  #closed(conn: Conn): void {
    if (!this.#conns.has(conn)) return;
    this.#detach(conn);
    this.#conns.delete(conn);
    this.#log.debug({ conn: conn.id }, 'worker connection closed');
  }

  // ---- session ----

  #scheduleAccept(conn: Conn, accept: () => void): void {
    if (this.suppressAccept) {
      this.#log.debug({ conn: conn.id }, 'accept suppressed');
      return;
    }
    if (this.acceptDelayMs <= 0) {
      accept();
      return;
    }
    conn.acceptTimer = setTimeout(() => {
      conn.acceptTimer = undefined;
      if (conn.phase !== 'closed') accept();
    }, this.acceptDelayMs);
  }

  #acceptFresh(conn: Conn): void {
    if (conn.phase !== 'registered') return;
    this.#endSession();
    const id = randomUUID();
    const session: Session = {
      id,
      token: signSessionToken(this.#secret, id),
      workerInstanceId: conn.workerInstanceId ?? randomUUID(),
      expiresAt: new Date(Date.now() + this.#ttlMs),
      recv: new ReceiveWindow<Frame>(this.windowSize),
      // One frame until the worker's first ack tells its window: never overrun a smaller one.
      send: new SendWindow<Frame>(1),
      creditLearned: false,
      conn: undefined,
      resumed: false,
      retries: new Map(),
    };
    this.#session = session;
    this.#bind(conn, session, false);
    this.#pump();
  }

  #acceptResume(conn: Conn, session: Session, lastSeen: number): void {
    if (conn.phase !== 'resuming') return;
    if (this.#session !== session) {
      // Reset while the accept was delayed.
      this.#sendReset(conn, ErrorCode.SESSION_UNKNOWN, 'session ended; handshake afresh');
      return;
    }
    this.#bind(conn, session, true);
    for (const entry of session.send.ack({ ack_seq: lastSeen })) this.#stopRetry(session, entry.seq);
    for (const entry of session.send.pending()) {
      this.#transmit(conn, entry.item);
      this.#retransmissions++;
      this.#armRetry(session, entry.seq, 0);
    }
    this.#pump();
  }

  #bind(conn: Conn, session: Session, resumed: boolean): void {
    session.conn = conn;
    session.resumed = resumed;
    conn.phase = 'ready';
    conn.workerInstanceId = session.workerInstanceId;
    const accept = buildFrame(
      FrameType.SESSION_ACCEPT,
      {
        session_id: session.id,
        session_token: session.token,
        worker_instance_id: session.workerInstanceId,
        resumed,
        expires_at: session.expiresAt.toISOString(),
      },
      this.#envelope(),
    );
    conn.accept = accept;
    this.#transmit(conn, accept);
    this.#accepts++;
    this.#log.debug({ conn: conn.id, session: session.id, resumed }, 'session accepted');
    this.#acceptLog.push(accept);
  }

  /** Forgets the session; its unacked frames go back to the head of the queue for the next session. */
  #endSession(): void {
    const session = this.#session;
    if (session === undefined) return;
    this.#stopRetries(session);
    const left = session.send.reset();
    const requeued = left.map(({ item }): Outbound => {
      const { session_seq: _dropped, ...frame } = item;
      return { frame: frame as Frame, resolve: noop, reject: noop };
    });
    this.#queue.unshift(...requeued);
    session.conn = undefined;
    this.#session = undefined;
  }

  #detach(conn: Conn): void {
    conn.phase = 'closed';
    if (conn.acceptTimer !== undefined) clearTimeout(conn.acceptTimer);
    conn.acceptTimer = undefined;
    const session = this.#session;
    if (session !== undefined && session.conn === conn) {
      session.conn = undefined;
      // Unacked frames stay pending: a resume retransmits them.
      this.#stopRetries(session);
    }
  }

  #sendReset(conn: Conn, code: string, reason: string, retryAfterMs?: number): void {
    const frame = buildFrame(
      FrameType.RESET,
      { code, reason, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) },
      this.#envelope(),
    );
    this.#transmit(conn, frame);
    this.#detach(conn);
    conn.link.close(code.startsWith('E.AUTH.') ? 1008 : 1000, shortReason(`${code}: ${reason}`));
  }

  // ---- outbound ----

  #prepare<T extends string>(type: T, payload: PayloadOf<T>, options: SchedulerSendOptions): Frame<T> {
    if (this.#disposed) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler is closed');
    if (isControlType(type)) {
      throw new AstraError(ErrorCode.FRAME_INVALID, `${type} is not a reliable-stream frame; use reset() or drain()`);
    }
    return buildFrame(type, payload, {
      ...this.#envelope(),
      ackRequest: true,
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.corr !== undefined ? { corr: options.corr } : {}),
      ...(options.seq !== undefined ? { seq: options.seq } : {}),
    });
  }

  #enqueue<T extends string>(frame: Frame<T>, tamper?: FrameTamper): Promise<Frame<T>> {
    return new Promise<Frame<T>>((resolve, reject) => {
      this.#queue.push({ frame, tamper, resolve: resolve as (f: Frame) => void, reject });
      this.#pump();
    });
  }

  #command(
    type: string,
    payload: Record<string, unknown>,
    id: string,
    options: SchedulerCommandOptions,
    defaultTimeoutMs: number,
    isAnswer: (frame: Frame) => boolean,
  ): Promise<Frame> {
    let result: Promise<Frame>;
    try {
      const frame = this.#prepare(type, payload, { id, ...(options.seq !== undefined ? { seq: options.seq } : {}) });
      const answer = this.#timeline.waitFor(isAnswer, {
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
        what: `answer to ${type} ${id}`,
      });
      result = Promise.all([this.#enqueue(frame, options.tamper), answer]).then(([, reply]) => reply);
    } catch (err) {
      result = Promise.reject(err);
    }
    // Callers may keep only the id; an answer nobody awaits must not become an unhandled rejection.
    result.catch(noop);
    return result;
  }

  #pump(): void {
    const session = this.#session;
    const conn = session?.conn;
    if (session === undefined || conn === undefined || conn.phase !== 'ready') return;
    while (this.#queue.length > 0 && session.send.hasCredit) {
      const out = this.#queue.shift() as Outbound;
      const entry = session.send.push(out.frame.id, (seq) => {
        const numbered = { ...out.frame, session_seq: seq };
        if (!out.tamper) return numbered;
        const tampered = out.tamper(numbered);
        return (typeof tampered === 'string' ? { ...numbered, [RAW_TEXT]: tampered } : tampered) as unknown as Frame;
      });
      this.#transmit(conn, entry.item);
      this.#armRetry(session, entry.seq, 0);
      out.resolve(entry.item);
    }
  }

  #armRetry(session: Session, seq: number, attempt: number): void {
    const policy = this.#retransmit;
    if (policy === false) return;
    this.#stopRetry(session, seq);
    const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
    const timer = setTimeout(() => {
      session.retries.delete(seq);
      const entry = session.send.get(seq);
      const conn = session.conn;
      if (entry === undefined || this.#session !== session || conn === undefined || conn.phase !== 'ready') return;
      this.#log.debug({ conn: conn.id, seq, attempt: attempt + 1 }, 'retransmit');
      this.#transmit(conn, entry.item);
      this.#retransmissions++;
      this.#armRetry(session, seq, attempt + 1);
    }, delay);
    session.retries.set(seq, timer);
  }

  #stopRetry(session: Session, seq: number): void {
    const timer = session.retries.get(seq);
    if (timer !== undefined) clearTimeout(timer);
    session.retries.delete(seq);
  }

  #stopRetries(session: Session): void {
    for (const timer of session.retries.values()) clearTimeout(timer);
    session.retries.clear();
  }

  #transmit(conn: Conn, frame: Frame): void {
    this.#log.debug({ conn: conn.id, type: frame.type, id: frame.id, seq: frame.session_seq }, 'frame out');
    const raw = (frame as { [RAW_TEXT]?: string })[RAW_TEXT];
    conn.link.send(raw ?? JSON.stringify(frame));
  }

  // ---- helpers ----

  #envelope(): { sender: { role: 'scheduler'; id: string }; tenant: string } {
    return { sender: { role: 'scheduler', id: this.identity.senderId }, tenant: this.tenant };
  }

  #current(): Conn | undefined {
    const bound = this.#session?.conn;
    if (bound !== undefined && bound.phase !== 'closed') return bound;
    const latest = this.#latest;
    return latest !== undefined && latest.phase !== 'closed' ? latest : undefined;
  }

  #requireCurrent(what: string): Conn {
    const conn = this.#current();
    if (conn === undefined) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, `${what}: no worker is connected`);
    return conn;
  }

  #violation(conn: Conn, text: string): void {
    this.#log.warn({ conn: conn.id, violation: text }, 'protocol violation by worker');
    this.#violations.push(text);
  }

  #emit(frame: Frame, kind: 'control' | 'delivered'): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(frame, kind);
      } catch (err) {
        this.#log.error({ err }, 'onFrame listener threw');
      }
    }
  }
}

/** Creates a {@link SchedulerCore}. */
export function createSchedulerCore(options: SchedulerCoreOptions = {}): SchedulerCore {
  return new SchedulerCore(options);
}
