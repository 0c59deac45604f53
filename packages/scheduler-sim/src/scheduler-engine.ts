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
  type Frame,
} from '@astraflow/protocol';
import { checkWorkerFrame } from './check-worker-frame.js';
import { wireText } from './frame-tamper.js';
import { ReliableSender } from './reliable-sender.js';
import { buildAckFrame, signSessionToken, verifySessionToken, type SchedulerIdentity } from './scheduler-frames.js';
import type {
  SchedulerConnection,
  SchedulerCoreOptions,
  SchedulerLink,
  SchedulerPhase,
  SchedulerSessionState,
} from './scheduler-options.js';
import { SchedulerRecord } from './scheduler-record.js';
import type { Conn, SimSession } from './scheduler-state.js';

/** Close reasons travel in a WebSocket close frame, which allows 123 bytes. */
function shortReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${reason.slice(0, 100)}…`;
}

/**
 * How the scheduler simulator reacts to a worker (docs/protocol.md, "Session"
 * and "Windows"): connections, handshake and token check, register, accept,
 * resume, reset, the receive window with its acks, and the reliable send
 * window. {@link SchedulerCore} adds the commands a test drives it with.
 *
 * Every worker frame is checked with {@link checkWorkerFrame}; what fails is
 * described in {@link SchedulerRecord.violations} and otherwise ignored.
 */
export class SchedulerEngine extends SchedulerRecord {
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
  readonly #ttlMs: number;
  protected readonly out: ReliableSender;

  readonly #conns = new Set<Conn>();
  #latest: Conn | undefined;
  protected session: SimSession | undefined;
  #connections = 0;
  #accepts = 0;
  protected disposed = false;

  constructor(options: SchedulerCoreOptions = {}) {
    super(options.logger ?? createNoopLogger());
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
    this.#ttlMs = options.sessionTtlMs ?? 3_600_000;
    this.out = new ReliableSender({
      retransmit,
      log: this.log,
      session: () => this.session,
      transmit: (conn, frame) => this.transmit(conn, frame),
    });
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
    return this.out.retransmissions;
  }

  /** A snapshot of the current session and connection. */
  get state(): SchedulerSessionState {
    const s = this.session;
    const latest = this.#latest;
    const phase: SchedulerPhase = latest === undefined || latest.phase === 'closed' ? 'disconnected' : latest.phase;
    return {
      phase,
      sessionId: s?.id ?? null,
      sessionToken: s?.token ?? null,
      workerInstanceId: s?.workerInstanceId ?? null,
      resumed: s?.resumed ?? false,
      recvBase: s?.recv.base ?? 0,
      nextSendSeq: s?.send.nextSeq ?? 1,
      unacked: s?.send.inflight ?? 0,
      queued: this.out.queued,
      sendWindow: s?.send.size ?? 1,
    };
  }

  /** Starts tracking a new connection; the transport feeds its frames through the returned handle. */
  openConnection(link: SchedulerLink): SchedulerConnection {
    if (this.disposed) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler is closed');
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
    this.log.debug({ conn: conn.id }, 'worker connected');
    return this.#handle(conn);
  }

  /** The connection outbound traffic goes to: the session's, else the latest open one. */
  currentConnection(): SchedulerConnection | undefined {
    const conn = this.current();
    return conn === undefined ? undefined : this.#handle(conn);
  }

  /** The transport's handle on `conn`. */
  #handle(conn: Conn): SchedulerConnection {
    return {
      id: conn.id,
      get isOpen() {
        return conn.phase !== 'closed';
      },
      receive: (raw) => this.#receive(conn, raw),
      closed: () => this.#closed(conn),
    };
  }

  /** Stops every timer and rejects pending sends and waiters. The transport closes its connections. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const error = new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler closed');
    for (const conn of this.#conns) this.#detach(conn);
    if (this.session !== undefined) this.out.stopRetries(this.session);
    this.out.rejectAll(error);
    this.cancelWaits(error);
  }

  // ---- inbound ----

  #receive(conn: Conn, raw: string): void {
    if (conn.phase === 'closed' || this.disposed) return;
    const check = checkWorkerFrame(raw, { tenant: this.tenant });
    if (!check.ok) {
      this.violation(conn.id, check.violation);
      const frame = check.frame;
      if (
        frame !== undefined &&
        frame.tenant !== this.tenant &&
        (frame.type === FrameType.HANDSHAKE || frame.type === FrameType.RESUME)
      ) {
        this.sendReset(conn, ErrorCode.SESSION_TENANT_MISMATCH, `this scheduler serves tenant ${this.tenant}`);
      }
      return;
    }
    const frame = check.frame;
    this.log.debug({ conn: conn.id, type: frame.type, id: frame.id, seq: frame.session_seq }, 'frame in');
    this.receivedLog.push(frame);
    if (conn.phase === 'ready' && this.session?.conn === conn && frame.sender.id !== this.session.workerInstanceId) {
      this.violation(
        conn.id,
        `${frame.type} ${frame.id}: sender.id '${frame.sender.id}' is not the session's worker_instance_id '${this.session.workerInstanceId}'`,
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
      if (conn.phase !== 'ready') this.violation(conn.id, `control.heartbeat ${frame.id}: sent before the session accept`);
      this.recordHeartbeat(frame);
    } else {
      this.violation(conn.id, `${frame.type} ${frame.id}: not a frame type a worker sends`);
    }
    this.recordControl(frame);
  }

  #onHandshake(conn: Conn, frame: Frame<'control.handshake'>): void {
    if (conn.phase !== 'connected') {
      if (frame.id === conn.handshakeId) this.transmit(conn, buildAckFrame(this.identity, frame));
      else this.violation(conn.id, `control.handshake ${frame.id}: connection already past its handshake`);
      return;
    }
    this.recordHandshake(frame);
    const { auth, worker } = frame.payload;
    if (this.#token !== undefined) {
      const offered = auth.mode === 'token' ? (auth.token ?? undefined) : undefined;
      const bearer = conn.link.bearerToken;
      if (offered !== this.#token && bearer !== this.#token) {
        const missing = !offered && !bearer;
        this.sendReset(
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
    this.transmit(conn, buildAckFrame(this.identity, frame));
  }

  #onRegister(conn: Conn, frame: Frame<'control.register'>): void {
    if (conn.phase === 'connected' || conn.phase === 'resuming') {
      this.violation(conn.id, `control.register ${frame.id}: sent before a handshake`);
      this.sendReset(conn, ErrorCode.AUTH_HANDSHAKE_REQUIRED, 'handshake before register');
      return;
    }
    if (frame.id !== conn.registerId) this.recordRegister(frame);
    this.transmit(conn, buildAckFrame(this.identity, frame));
    if (conn.phase !== 'handshaken') return;
    conn.phase = 'registered';
    conn.registerId = frame.id;
    this.#scheduleAccept(conn, () => this.#acceptFresh(conn));
  }

  #onResume(conn: Conn, frame: Frame<'control.resume'>): void {
    if (conn.phase !== 'connected') {
      if (frame.id === conn.resumeId) this.transmit(conn, buildAckFrame(this.identity, frame));
      else this.violation(conn.id, `control.resume ${frame.id}: only valid as the first frame of a connection`);
      return;
    }
    this.recordResume(frame);
    const { session_id: sessionId, session_token: token, last_seen_seq: lastSeen } = frame.payload;
    const session = this.session;
    if (session === undefined || session.id !== sessionId || session.expiresAt.getTime() <= Date.now()) {
      this.sendReset(conn, ErrorCode.SESSION_UNKNOWN, 'no such session; handshake afresh');
      return;
    }
    if (!verifySessionToken(this.#secret, session.id, token)) {
      this.sendReset(conn, ErrorCode.SESSION_INVALID_TOKEN, 'session token rejected; handshake afresh');
      return;
    }
    this.transmit(conn, buildAckFrame(this.identity, frame));
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
    const session = this.session;
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
    this.out.acked(session, released);
  }

  #onReliable(conn: Conn, frame: Frame): void {
    const session = this.session;
    if (session === undefined || session.conn !== conn || conn.phase !== 'ready') {
      this.violation(conn.id, `${frame.type} ${frame.id}: business frame outside an accepted session`);
      return;
    }
    const seq = frame.session_seq as number;
    const { status, delivered } = session.recv.offer(seq, frame);
    if (status !== 'accepted') this.log.debug({ conn: conn.id, seq, status }, 'frame not delivered');
    if (this.shouldAck(frame)) this.transmit(conn, buildAckFrame(this.identity, frame, session.recv.ackState()));
    for (const item of delivered) this.recordDelivered(item);
  }

  #closed(conn: Conn): void {
    if (!this.#conns.has(conn)) return;
    this.#detach(conn);
    this.#conns.delete(conn);
    this.log.debug({ conn: conn.id }, 'worker connection closed');
  }

  // ---- session ----

  #scheduleAccept(conn: Conn, accept: () => void): void {
    if (this.suppressAccept) {
      this.log.debug({ conn: conn.id }, 'accept suppressed');
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
    this.endSession();
    const id = randomUUID();
    const session: SimSession = {
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
    this.session = session;
    this.#bind(conn, session, false);
    this.out.pump();
  }

  #acceptResume(conn: Conn, session: SimSession, lastSeen: number): void {
    if (conn.phase !== 'resuming') return;
    if (this.session !== session) {
      // Reset while the accept was delayed.
      this.sendReset(conn, ErrorCode.SESSION_UNKNOWN, 'session ended; handshake afresh');
      return;
    }
    this.#bind(conn, session, true);
    this.out.resumed(session, conn, lastSeen);
  }

  #bind(conn: Conn, session: SimSession, resumed: boolean): void {
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
      this.envelope(),
    );
    conn.accept = accept;
    this.transmit(conn, accept);
    this.#accepts++;
    this.log.debug({ conn: conn.id, session: session.id, resumed }, 'session accepted');
    this.acceptLog.push(accept);
  }

  /** Forgets the session; its unacked frames go back to the head of the queue for the next session. */
  protected endSession(): void {
    const session = this.session;
    if (session === undefined) return;
    this.out.requeue(session);
    session.conn = undefined;
    this.session = undefined;
  }

  #detach(conn: Conn): void {
    conn.phase = 'closed';
    if (conn.acceptTimer !== undefined) clearTimeout(conn.acceptTimer);
    conn.acceptTimer = undefined;
    const session = this.session;
    if (session !== undefined && session.conn === conn) {
      session.conn = undefined;
      // Unacked frames stay pending: a resume retransmits them.
      this.out.stopRetries(session);
    }
  }

  protected sendReset(conn: Conn, code: string, reason: string, retryAfterMs?: number): void {
    const frame = buildFrame(
      FrameType.RESET,
      { code, reason, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) },
      this.envelope(),
    );
    this.transmit(conn, frame);
    this.#detach(conn);
    conn.link.close(code.startsWith('E.AUTH.') ? 1008 : 1000, shortReason(`${code}: ${reason}`));
  }

  protected transmit(conn: Conn, frame: Frame): void {
    this.log.debug({ conn: conn.id, type: frame.type, id: frame.id, seq: frame.session_seq }, 'frame out');
    conn.link.send(wireText(frame));
  }

  // ---- helpers ----

  protected envelope(): { sender: { role: 'scheduler'; id: string }; tenant: string } {
    return { sender: { role: 'scheduler', id: this.identity.senderId }, tenant: this.tenant };
  }

  protected current(): Conn | undefined {
    const bound = this.session?.conn;
    if (bound !== undefined && bound.phase !== 'closed') return bound;
    const latest = this.#latest;
    return latest !== undefined && latest.phase !== 'closed' ? latest : undefined;
  }

  protected requireCurrent(what: string): Conn {
    const conn = this.current();
    if (conn === undefined) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, `${what}: no worker is connected`);
    return conn;
  }
}
