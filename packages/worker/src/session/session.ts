import { EventEmitter } from 'node:events';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import {
  AstraError,
  ErrorCode,
  FrameType,
  ReceiveWindow,
  SendWindow,
  buildFrame,
  clampTimerMs,
  createNoopLogger,
  isAuthErrorCode,
  isControlType,
  parseFrame,
  redactSecrets,
  scrubSecrets,
  type AckPayload,
  type FailureClass,
  type Frame,
  type FrameError,
  type Logger,
  type PayloadOf,
  type RegisterPayload,
  type ResetPayload,
  type SessionAcceptPayload,
  type Transport,
  type TransportCloseInfo,
  type TransportConnection,
} from '@astraflow/protocol';
import { BoundedQueue } from '../queue/bounded-queue.js';
import { isImpossibleAck } from './ack-check.js';
import { heartbeatDelayMs, reconnectDelayMs, retransmitDelayMs, retryAfterDelayMs } from './backoff.js';
import { HostMetricsSampler } from './host-metrics.js';
import { LatencyEstimate } from './latency-estimate.js';
import { InstanceIdStore } from './instance-id-store.js';
import { RecvStallWatch } from './recv-stall-watch.js';
import { salvageNumbered } from './salvage-frame.js';
import type { SessionConfig } from './session-config.js';
import { isOpenState, type SessionState } from './session-state.js';

/** Options of {@link Session}. */
export interface SessionOptions {
  config: SessionConfig;
  transport: Transport;
  logger?: Logger;
  /** Reported in the handshake; defaults to the OS host name. */
  hostname?: string;
  /** Builds the current `control.register` payload (capabilities + inventory); called for every registration. */
  register(): RegisterPayload;
  /** Extra heartbeat metrics; must include `inflight`. */
  heartbeatMetrics?(): { inflight: number } & Record<string, number>;
  /** The heartbeat's `healthy` flag (default always true), e.g. false while the worker is overloaded. */
  healthy?(): boolean;
  /**
   * A delivered business frame that the app queue's overflow policy dropped.
   * It was already acked, so the caller must answer it (e.g. a dispatch with
   * an error) — the scheduler will not send it again.
   */
  onDropped?(frame: Frame): void;
  /**
   * A numbered frame that failed its size, envelope or payload check, as
   * far as it could be read (see `salvageNumbered`). It took its turn in the
   * receive window and was acked like any other, so answer it if its sender
   * waits for an answer.
   */
  onInvalid?(frame: Frame, error: FrameError): void;
  /**
   * Business frame types handed to {@link SessionOptions.onExpress} the moment
   * they arrive, ahead of everything queued, instead of through the app queue.
   * For answers that running work waits on (`biz.exec.next.response`): behind
   * a full blocking queue they would wait for that very work to finish. They
   * still take their turn in the window for acks and de-duplication.
   */
  expressTypes?: ReadonlySet<string>;
  /** Receives express frames; called again for a retransmitted copy, so it must be idempotent. */
  onExpress?(frame: Frame): void;
  /** Injectable randomness for jitter (tests). */
  random?: () => number;
  /**
   * Makes a numbered business frame durable before it is acked (a durable
   * outbox records accepted dispatches here). Called once per frame, on
   * arrival; no ack covering the frame goes out until the returned promise
   * settles, so a crash can never lose a frame the scheduler saw acked.
   * Must not reject.
   */
  persistInbound?(frame: Frame): Promise<void> | undefined;
}

/** Returned by {@link Session.send}: the frame as numbered, and a promise settled by its ack. */
export interface OutboundReceipt {
  frame: Frame;
  /** Resolves when the scheduler acknowledged the frame; rejects if the session closes first. */
  acked: Promise<void>;
}

/** Options of {@link Session.send}. */
export interface SendOptions {
  /** Frame id; default a fresh UUID. Reuse an id only to repeat a frame that was already acked. */
  id?: string;
  corr?: string | null;
  seq?: number | null;
  /** Ask for an explicit ack naming the frame's id (every numbered frame is acked by window anyway). */
  ackRequest?: boolean;
}

/** Counters for metrics and heartbeat diagnostics. Monotonic unless noted. */
export interface SessionStats {
  framesIn: number;
  framesOut: number;
  invalidFramesIn: number;
  duplicateFramesIn: number;
  retransmissions: number;
  reconnects: number;
  heartbeatsSent: number;
  transportQueueDrops: number;
  appQueueDrops: number;
  /** Acks claiming frames never sent; ignored. */
  impossibleAcks: number;
  /** Business frames refused by send() for exceeding `max_outbound_frame_bytes`. */
  outboundTooLarge: number;
  /** Sessions reset because the receive window waited too long for a missing frame. */
  recvStalls: number;
  /** Gauges. */
  transportQueueDepth: number;
  appQueueDepth: number;
  outboxDepth: number;
  unacked: number;
  receiveBuffered: number;
}

/** Events of {@link Session}. */
export interface SessionEvents {
  state: [state: SessionState, previous: SessionState];
  ready: [info: { resumed: boolean; sessionId: string }];
  drain: [payload: PayloadOf<'control.drain'>];
  fatal: [error: AstraError];
}

/** A numbered inbound frame in the receive window; `invalid` when its payload failed validation. */
interface Inbound {
  frame: Frame;
  invalid?: FrameError;
}

interface OutboxItem {
  id: string;
  /** Built and validated once, at `send()`; numbering and the sender id are added when it enters the window. */
  frame: Frame;
  /** `JSON.stringify(frame)`, made for the size check at `send()`. */
  text?: string;
  sent?: (receipt: OutboundReceipt) => void;
  /** Fails the `send()` promise of a frame still queued when the session closes. */
  unsent?: (err: AstraError) => void;
  ack: { resolve: () => void; reject: (err: unknown) => void; promise: Promise<void> };
}

interface ControlWaiter {
  match(frame: Frame): boolean;
  resolve(frame: Frame): void;
  reject(err: unknown): void;
}

interface Connection {
  transport: TransportConnection;
  closed: Promise<TransportCloseInfo>;
  /** Set when this side or a reset decided the connection must end. */
  closing: boolean;
}

/** Bytes reserved for `session_seq` and a sender id that may change after send(). */
const NUMBERING_ROOM_BYTES = 256;

function deferred(): OutboxItem['ack'] {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { resolve, reject, promise };
}

class ConnectionLost extends AstraError {
  constructor(info: TransportCloseInfo) {
    super(ErrorCode.TRANSPORT_FAILURE, `connection closed (${info.code}${info.reason ? ` ${info.reason}` : ''})`, {
      details: { failure: info.failure, code: info.code },
    });
  }
}

/**
 * The worker's control-plane session (docs/protocol.md §3–§5): handshake,
 * register, accept, heartbeats, reconnect and resume, acks and both sliding
 * windows. It knows nothing of business payloads: numbered frames come out
 * of {@link Session.receive} in order and exactly once, and go in through
 * {@link Session.send}, which blocks on window credit and retransmits until
 * acked — across reconnects, and into a fresh session if the old one is
 * lost.
 */
export class Session extends EventEmitter<SessionEvents> {
  readonly #config: SessionConfig;
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #hostname: string;
  readonly #options: SessionOptions;
  readonly #random: () => number;
  readonly #idStore: InstanceIdStore;
  readonly #host: HostMetricsSampler;

  #state: SessionState = 'NEW';
  #instanceId: string | undefined;
  #sessionId: string | undefined;
  #sessionToken: string | undefined;
  #conn: Connection | undefined;
  #stopping = false;
  #draining = false;
  #attempt = 0;
  #retryAfterMs: number | undefined;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();

  readonly #recvWindow: ReceiveWindow<Inbound>;
  readonly #stall: RecvStallWatch;
  readonly #sendWindow: SendWindow<{ frame: Frame; item: OutboxItem; text: string }>;
  readonly #retx = new Map<number, { attempts: number; timer: NodeJS.Timeout; sentAt: number }>();
  readonly #latency = new LatencyEstimate();
  readonly #outbox: OutboxItem[] = [];
  readonly #controlWaiters = new Set<ControlWaiter>();
  readonly #transportQueue: Inbound[] = [];
  #pumpingInbound = false;
  /** Settles when the last ack held back by {@link SessionOptions.persistInbound} went out. */
  #ackGate: Promise<void> | undefined;
  readonly #appQueue: BoundedQueue<Frame>;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #flushWaiters: Array<() => void> = [];
  #doneResolve!: () => void;
  #doneReject!: (err: AstraError) => void;
  /** Settles when the session is closed: resolves on a requested stop, rejects with a fatal error. */
  readonly done: Promise<void>;

  readonly stats: SessionStats = {
    framesIn: 0,
    framesOut: 0,
    invalidFramesIn: 0,
    duplicateFramesIn: 0,
    retransmissions: 0,
    reconnects: 0,
    heartbeatsSent: 0,
    transportQueueDrops: 0,
    appQueueDrops: 0,
    impossibleAcks: 0,
    outboundTooLarge: 0,
    recvStalls: 0,
    transportQueueDepth: 0,
    appQueueDepth: 0,
    outboxDepth: 0,
    unacked: 0,
    receiveBuffered: 0,
  };

  constructor(options: SessionOptions) {
    super();
    this.#options = options;
    this.#config = options.config;
    this.#transport = options.transport;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'session' });
    this.#hostname = options.hostname ?? osHostname();
    this.#random = options.random ?? Math.random;
    this.#idStore = new InstanceIdStore(
      this.#config.worker_instance_id_file ?? join(dirname(this.#config.data_dir), 'worker_instance_id'),
    );
    this.#host = new HostMetricsSampler(this.#config.data_dir);
    this.#recvWindow = new ReceiveWindow(this.#config.session_window_size);
    this.#sendWindow = new SendWindow(this.#config.session_window_size);
    this.#stall = new RecvStallWatch(this.#config.session_recv_stall_seconds * 1000, () => this.#onRecvStall());
    this.#appQueue = new BoundedQueue({
      max: this.#config.session_app_queue_max,
      policy: this.#config.session_app_queue_overflow,
    });
    this.#instanceId = this.#config.worker_instance_id;
    this.done = new Promise<void>((resolve, reject) => {
      this.#doneResolve = resolve;
      this.#doneReject = reject;
    });
    this.done.catch(() => {});
  }

  /** Current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The persisted identity, once known. */
  get workerInstanceId(): string | undefined {
    return this.#instanceId;
  }

  /** Current session id, if a session is held. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** Starts connecting in the background. Resolves once the persisted identity is loaded. */
  async start(): Promise<void> {
    if (this.#loop) return;
    if (!this.#instanceId) {
      try {
        this.#instanceId = await this.#idStore.read();
      } catch (err) {
        this.#log.warn({ err, path: this.#idStore.path }, 'cannot read persisted worker_instance_id; a new one will be adopted');
      }
    }
    this.#loop = this.#run();
  }

  /** Resolves when the session is READY (immediately if it is). */
  whenReady(timeoutMs?: number): Promise<void> {
    if (isOpenState(this.#state)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              cleanup();
              reject(new AstraError(ErrorCode.TIMEOUT, `session not ready within ${timeoutMs} ms (state ${this.#state})`));
            }, timeoutMs);
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const onFatal = (err: AstraError): void => {
        cleanup();
        reject(err);
      };
      const cleanup = (): void => {
        if (timer) clearTimeout(timer);
        this.off('ready', onReady);
        this.off('fatal', onFatal);
      };
      this.on('ready', onReady);
      this.on('fatal', onFatal);
    });
  }

  /** Next delivered business frame, in order, exactly once. */
  receive(): Promise<Frame> {
    return this.#appQueue.shift();
  }

  /**
   * Sends a business (`biz.*` / `ext.*`) frame on the reliable stream.
   * Resolves once the frame holds a place in the send window (waiting for
   * credit if needed; it never drops); `acked` settles when the scheduler
   * acknowledges it. Frames are kept across reconnects and re-sent, with
   * the same id, in a fresh session if the old one is lost.
   */
  send<T extends string>(type: T, payload: PayloadOf<T>, options: SendOptions = {}): Promise<OutboundReceipt> {
    if (isControlType(type)) {
      return Promise.reject(new AstraError(ErrorCode.INTERNAL, `${type} is a session frame; send() carries business frames`));
    }
    if (this.#state === 'CLOSED') {
      return Promise.reject(new AstraError(ErrorCode.TRANSPORT_FAILURE, `session closed; ${type} not sent`));
    }
    // Built (and so validated) now, so a bad payload fails its caller instead of the pump.
    const frame = buildFrame(type, payload, {
      ...(options.id !== undefined ? { id: options.id } : {}),
      sender: this.#sender(),
      tenant: this.#config.tenant,
      ...(options.corr !== undefined ? { corr: options.corr } : {}),
      ...(options.seq !== undefined ? { seq: options.seq } : {}),
      ...(options.ackRequest ? { ackRequest: true } : {}),
    });
    // Serialised once: the size check measures the text the pump then sends (numbered in place).
    const text = JSON.stringify(frame);
    const tooLarge = this.#checkOutboundSize(frame, text);
    if (tooLarge) return Promise.reject(tooLarge);
    return new Promise<OutboundReceipt>((resolve, reject) => {
      this.#outbox.push({ id: frame.id, frame, text, sent: resolve, unsent: reject, ack: deferred() });
      this.#pumpOutbound();
    });
  }

  /** Sends a fresh `control.register` (inventory changed). Acked, no new accept. A no-op while not connected: the next handshake registers anyway. */
  async reregister(): Promise<void> {
    if (!isOpenState(this.#state) || !this.#conn) return;
    const frame = this.#control(FrameType.REGISTER, this.#options.register(), true);
    const acked = this.#waitAck(frame.id, this.#config.session_accept_timeout_seconds * 1000);
    await this.#transmit(frame);
    await acked;
  }

  /** Enters DRAINING: the session keeps delivering and sending until {@link Session.close}. */
  drain(): void {
    this.#draining = true;
    if (this.#state === 'READY') this.#setState('DRAINING');
  }

  /** True when every outbound frame has been acked (nothing queued, nothing unacked). */
  get flushed(): boolean {
    return this.#outbox.length === 0 && this.#sendWindow.inflight === 0;
  }

  /** Waits until {@link flushed}, or `timeoutMs`; resolves with whether it got there. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.flushed) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#flushWaiters = this.#flushWaiters.filter((w) => w !== done);
        resolve(false);
      }, clampTimerMs(timeoutMs));
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#flushWaiters.push(done);
    });
  }

  /** Closes the session for good (after {@link flush} if you want answers delivered). */
  async close(): Promise<void> {
    if (this.#stopping) return this.#loop?.catch(() => {});
    this.#stopping = true;
    this.#abort.abort();
    this.#closeConnection(1000, 'worker shutting down');
    await this.#loop?.catch(() => {});
    this.#finish();
  }

  #finish(error?: AstraError): void {
    if (this.#state === 'CLOSED') return;
    this.#stopHeartbeats();
    this.#clearRetransmits();
    this.#stall.stop();
    const reason = error ?? new AstraError(ErrorCode.TRANSPORT_FAILURE, 'session closed');
    for (const item of this.#outbox.splice(0)) {
      item.ack.reject(reason);
      // Its send() is still pending: settle it, or its caller waits forever.
      item.unsent?.(
        new AstraError(ErrorCode.TRANSPORT_FAILURE, `session closed with ${item.frame.type} ${item.id} still queued; not sent`, {
          cause: reason,
        }),
      );
    }
    for (const entry of this.#sendWindow.reset()) entry.item.item.ack.reject(reason);
    this.#setState('CLOSED');
    if (error) {
      this.emit('fatal', error);
      this.#doneReject(error);
    } else {
      this.#doneResolve();
    }
  }

  // ---- connection loop -------------------------------------------------

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let failure: FailureClass = 'network';
      let cause: unknown;
      try {
        await this.#connectOnce();
      } catch (err) {
        cause = err;
        const details = AstraError.isInstance(err) ? err.details : undefined;
        failure = (details?.failure as FailureClass | undefined) ?? 'network';
      }
      this.#teardownConnection();
      if (this.#stopping) break;
      const fatal = this.#fatalFor(failure, cause);
      if (fatal) {
        this.#log.error({ code: fatal.code }, fatal.message);
        this.#finish(fatal);
        return;
      }
      this.#attempt++;
      const delay = this.#retryAfterMs ?? reconnectDelayMs(this.#attempt, {
        baseSeconds: this.#config.reconnect_base_delay_seconds,
        maxSeconds: this.#config.reconnect_max_delay_seconds,
        jitter: this.#config.reconnect_jitter,
      }, this.#random);
      this.#retryAfterMs = undefined;
      this.#setState('BACKOFF');
      this.#log.info(
        { attempt: this.#attempt, delay_ms: delay, failure, err: cause instanceof Error ? cause.message : undefined },
        'reconnecting after delay',
      );
      await this.#sleep(delay);
      if (this.#stopping) break;
      this.stats.reconnects++;
      this.#setState('NEW');
    }
    this.#finish();
  }

  #fatalFor(failure: FailureClass, cause: unknown): AstraError | undefined {
    const text = cause instanceof Error ? cause.message : 'connection failed';
    if (failure === 'auth' && this.#config.reconnect_abort_on_auth_error) {
      const code = AstraError.isInstance(cause) && isAuthErrorCode(cause.code) ? cause.code : ErrorCode.AUTH_UNAUTHENTICATED;
      return new AstraError(code, `authentication failed, not retrying (reconnect_abort_on_auth_error): ${text}`, { cause });
    }
    if (failure === 'protocol' && this.#config.reconnect_abort_on_protocol_error) {
      return new AstraError(
        ErrorCode.TRANSPORT_FAILURE,
        `protocol error, not retrying (reconnect_abort_on_protocol_error): ${text}`,
        { cause, details: { failure } },
      );
    }
    return undefined;
  }

  async #connectOnce(): Promise<void> {
    this.#setState('HANDSHAKING');
    let resolveClosed!: (info: TransportCloseInfo) => void;
    const closed = new Promise<TransportCloseInfo>((resolve) => {
      resolveClosed = resolve;
    });
    const transport = await this.#transport.connect(
      {
        onMessage: (data) => this.#onMessage(data),
        onClose: (closeInfo) => {
          // A close reason is the peer's text too: it may echo a secret.
          const info = { ...closeInfo, reason: scrubSecrets(closeInfo.reason, this.#secrets()) };
          this.#log.debug({ code: info.code, reason: info.reason, failure: info.failure }, 'transport closed');
          resolveClosed(info);
        },
      },
      { signal: this.#abort.signal },
    );
    const conn: Connection = { transport, closed, closing: false };
    this.#conn = conn;
    // Any close fails whatever we are waiting for on this connection.
    void closed.then((info) => this.#rejectWaiters(new ConnectionLost(info)));
    if (this.#stopping) {
      this.#closeConnection(1000, 'worker shutting down');
    } else {
      await this.#establish(conn);
    }
    const info = await closed;
    const failure = this.#pendingFailure;
    this.#pendingFailure = undefined;
    if (this.#stopping || conn.closing) return;
    throw failure ?? (AstraError.isInstance(info.error) ? info.error : new ConnectionLost(info));
  }

  async #establish(conn: Connection): Promise<void> {
    const timeoutMs = this.#config.session_accept_timeout_seconds * 1000;
    try {
      if (this.#sessionId && this.#sessionToken) {
        const resume = this.#control(FrameType.RESUME, {
          session_id: this.#sessionId,
          session_token: this.#sessionToken,
          last_seen_seq: this.#recvWindow.base,
        }, true);
        const accepted = this.#waitFrame(FrameType.SESSION_ACCEPT, timeoutMs);
        this.#expectAccept = true;
        this.#resuming = true;
        await this.#transmit(resume);
        await accepted;
        this.#resuming = false;
        await this.#announceReady();
      } else {
        const handshake = this.#control(FrameType.HANDSHAKE, {
          protocol: this.#config.handshake_protocol_version,
          auth:
            this.#config.auth_mode === 'mtls'
              ? { mode: 'mtls', fingerprint: this.#config.auth_fingerprint ?? null }
              : { mode: 'token', token: this.#config.auth_token ?? null },
          worker: {
            worker_name: this.#config.worker_name,
            ...(this.#instanceId ? { worker_instance_id: this.#instanceId } : {}),
            version: this.#config.worker_version,
            hostname: this.#hostname,
          },
        }, true);
        const handshakeAck = this.#waitAck(handshake.id, timeoutMs);
        await this.#transmit(handshake);
        const ack = await handshakeAck;
        if (ack.ok === false) {
          throw new AstraError(ErrorCode.AUTH_UNAUTHENTICATED, `handshake refused${ack.info ? `: ${ack.info}` : ''}`, {
            details: { failure: 'auth' },
          });
        }
        const register = this.#control(FrameType.REGISTER, this.#options.register(), true);
        const registerAck = this.#waitAck(register.id, timeoutMs);
        const accepted = this.#waitFrame(FrameType.SESSION_ACCEPT, timeoutMs);
        this.#expectAccept = true;
        await this.#transmit(register);
        const rack = await registerAck;
        if (rack.ok === false) {
          throw new AstraError(ErrorCode.SESSION_NOT_REGISTERED, `register refused${rack.info ? `: ${rack.info}` : ''}`, {
            details: { failure: 'protocol' },
          });
        }
        if (this.#state === 'HANDSHAKING') this.#setState('REGISTERED');
        await accepted;
        await this.#announceReady();
      }
    } catch (err) {
      this.#expectAccept = false;
      if (conn.closing || !conn.transport.isOpen) return;
      this.#log.warn({ err }, 'session establishment failed');
      if (AstraError.isInstance(err) && err.details?.failure) {
        // Surface the classified failure to the reconnect loop.
        this.#pendingFailure = err;
      } else if (AstraError.isInstance(err) && err.code === ErrorCode.TIMEOUT && this.#sessionId) {
        // docs/protocol.md §4: a resume that times out falls back to a full handshake.
        this.#forgetSession('resume not accepted in time');
      }
      this.#closeConnection(4000, 'session establishment failed', false);
    }
  }

  #pendingFailure: AstraError | undefined;
  #expectAccept = false;
  /** A `control.resume` is out and not yet accepted. */
  #resuming = false;
  #persisting: Promise<void> | undefined;
  #lastAccept: { resumed: boolean; sessionId: string } | undefined;

  /**
   * Applies an accept synchronously, inside the inbound pump, so that the
   * business frames right behind it already meet the new (or resumed)
   * windows.
   */
  #onAccept(accept: SessionAcceptPayload): void {
    const resumed = accept.resumed === true && accept.session_id === this.#sessionId;
    if (!resumed) this.#startFreshStreams();
    this.#sessionId = accept.session_id;
    this.#sessionToken = accept.session_token;
    if (accept.worker_instance_id !== this.#instanceId && !this.#config.worker_instance_id) {
      this.#instanceId = accept.worker_instance_id;
      this.#persisting = this.#idStore.write(accept.worker_instance_id).catch((err: unknown) => {
        this.#log.warn({ err, path: this.#idStore.path }, 'cannot persist worker_instance_id');
      });
    }
    this.#lastAccept = { resumed, sessionId: accept.session_id };
    this.#attempt = 0;
    this.#setState(this.#draining ? 'DRAINING' : 'READY');
    this.#log.info({ session_id: accept.session_id, resumed, worker_instance_id: this.#instanceId }, 'session ready');
    if (resumed) {
      for (const entry of this.#sendWindow.pending()) {
        this.#log.debug({ session_seq: entry.seq, id: entry.id }, 'retransmitting after resume');
        this.stats.retransmissions++;
        void this.#transmit(entry.item.frame, entry.item.text);
        this.#scheduleRetransmit(entry.seq, 0);
      }
    }
    this.#startHeartbeats();
    this.#pumpOutbound();
  }

  /** Emits `ready` once the adopted identity is on disk, so a crash right after READY keeps it. */
  async #announceReady(): Promise<void> {
    await this.#persisting;
    if (this.#lastAccept && isOpenState(this.#state)) this.emit('ready', this.#lastAccept);
  }

  /**
   * A fresh session numbers both streams from 1 again. Frames the old
   * session never saw acked are not lost: they go back to the front of the
   * outbox, keeping their ids, and are sent again under new numbers.
   */
  #startFreshStreams(): void {
    this.#clearRetransmits();
    const unacked = this.#sendWindow.reset().map((entry) => entry.item.item);
    this.#outbox.unshift(...unacked);
    this.#recvWindow.reset();
    this.#stall.stop();
    if (unacked.length > 0) this.#log.info({ count: unacked.length }, 'requeueing unacked frames into the new session');
  }

  #forgetSession(reason: string): void {
    if (this.#sessionId) this.#log.info({ session_id: this.#sessionId, reason }, 'forgetting session');
    this.#sessionId = undefined;
    this.#sessionToken = undefined;
  }

  #teardownConnection(): void {
    this.#resuming = false;
    this.#stopHeartbeats();
    this.#clearRetransmits();
    this.#conn = undefined;
    this.#transportQueue.length = 0;
    this.stats.transportQueueDepth = 0;
  }

  #closeConnection(code: number, reason: string, requested = true): void {
    const conn = this.#conn;
    if (!conn) return;
    if (requested) conn.closing = true;
    conn.transport.close(code, reason);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  #setState(next: SessionState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#log.debug({ from: previous, to: next }, 'session state');
    this.emit('state', next, previous);
  }

  // ---- inbound -----------------------------------------------------------

  /**
   * Parses each frame as it arrives. Session frames (acks, accept, reset,
   * drain) are handled at once; only numbered business frames wait in the
   * transport queue. Otherwise an ack could sit behind business frames held
   * up by a full app queue, while the handlers that would drain that queue
   * wait for window credit only that ack can give.
   */
  #onMessage(raw: string): void {
    const parsed = parseFrame(raw, { maxBytes: this.#config.max_frame_bytes });
    if (!parsed.ok) {
      this.stats.invalidFramesIn++;
      const { error } = parsed;
      const stub = salvageNumbered(raw, error);
      if (stub) {
        // A numbered frame still takes its place in the stream, whatever is wrong with it: the
        // scheduler gets an ack (no endless retransmission), a command an answer, and the frames
        // behind it are not held back forever.
        this.#log.warn(
          { code: error.code, stage: error.stage, type: stub.type, id: stub.id, session_seq: stub.session_seq },
          `invalid inbound frame: ${error.message}`,
        );
        this.#enqueue({ frame: stub, invalid: error });
        return;
      }
      this.#log.warn(
        { code: error.code, stage: error.stage, type: error.type, id: error.id },
        `inbound frame dropped: ${error.message}`,
      );
      return;
    }
    const frame = parsed.frame;
    this.stats.framesIn++;
    if (this.#log.isLevelEnabled?.('debug') !== false) this.#log.debug({ frame: redactSecrets(frame, this.#secrets()) }, 'frame in');
    if (isControlType(frame.type)) {
      this.#handleControl(frame);
      return;
    }
    if (this.#options.expressTypes?.has(frame.type) && isOpenState(this.#state)) {
      try {
        this.#options.onExpress?.(frame);
      } catch (err) {
        this.#log.error({ err, type: frame.type, id: frame.id }, 'express frame handler failed');
      }
    }
    this.#enqueue({ frame });
  }

  #enqueue(item: Inbound): void {
    const max = this.#config.transport_recv_queue_max;
    if (max > 0 && this.#transportQueue.length >= max) {
      // Not acked, so the scheduler sends it again: dropping here loses nothing.
      this.stats.transportQueueDrops++;
      this.#log.warn({ depth: this.#transportQueue.length, id: item.frame.id }, 'transport receive queue full; frame dropped');
      return;
    }
    this.#transportQueue.push(item);
    this.stats.transportQueueDepth = this.#transportQueue.length;
    if (!this.#pumpingInbound) void this.#pumpInbound();
  }

  async #pumpInbound(): Promise<void> {
    this.#pumpingInbound = true;
    try {
      for (let item = this.#transportQueue.shift(); item !== undefined; item = this.#transportQueue.shift()) {
        this.stats.transportQueueDepth = this.#transportQueue.length;
        try {
          await this.#handleNumbered(item.frame, item.invalid);
        } catch (err) {
          this.#log.error({ err }, 'unexpected error while handling an inbound frame');
        }
      }
    } finally {
      this.#pumpingInbound = false;
    }
  }

  #handleControl(frame: Frame): void {
    switch (frame.type) {
      case FrameType.ACK:
        this.#onAck(frame as Frame<'control.ack'>);
        break;
      case FrameType.RESET:
        this.#onReset(frame.payload as ResetPayload);
        break;
      case FrameType.DRAIN:
        this.#log.info({ payload: frame.payload }, 'scheduler asked this worker to drain');
        this.drain();
        this.emit('drain', frame.payload as PayloadOf<'control.drain'>);
        break;
      case FrameType.SESSION_ACCEPT:
        if (this.#expectAccept) {
          this.#expectAccept = false;
          this.#onAccept(frame.payload as SessionAcceptPayload);
        } else {
          this.#log.warn({ id: frame.id }, 'unexpected control.session.accept ignored');
        }
        break;
      default:
        this.#log.warn({ type: frame.type, id: frame.id }, 'unexpected control frame ignored');
    }
    for (const waiter of this.#controlWaiters) {
      if (waiter.match(frame)) {
        this.#controlWaiters.delete(waiter);
        waiter.resolve(frame);
      }
    }
  }

  #onAck(frame: Frame<'control.ack'>): void {
    const ack: AckPayload = frame.payload;
    if (isImpossibleAck(ack, this.#sendWindow.nextSeq - 1)) {
      this.stats.impossibleAcks++;
      const fields = { id: frame.id, ack_seq: ack.ack_seq, ack_bitmap: ack.ack_bitmap, highest_sent: this.#sendWindow.nextSeq - 1 };
      // Logged once at WARN: a scheduler repeating it must not flood the log.
      if (this.stats.impossibleAcks === 1) this.#log.warn(fields, 'ack for frames never sent ignored (logged once)');
      else this.#log.debug(fields, 'ack for frames never sent ignored');
      return;
    }
    if (typeof ack.recv_window === 'number') this.#sendWindow.size = ack.recv_window;
    const acked = this.#sendWindow.ack({
      for: ack.for ?? frame.ack?.for ?? null,
      ack_seq: ack.ack_seq ?? null,
      ack_bitmap: ack.ack_bitmap ?? null,
      recv_window: ack.recv_window ?? null,
    });
    for (const entry of acked) {
      const retx = this.#retx.get(entry.seq);
      if (retx) clearTimeout(retx.timer);
      if (retx?.attempts === 0) this.#latency.sample(performance.now() - retx.sentAt);
      this.#retx.delete(entry.seq);
      entry.item.item.ack.resolve();
      this.#log.debug({ session_seq: entry.seq, id: entry.id, type: entry.item.frame.type }, 'ack resolved');
    }
    this.stats.unacked = this.#sendWindow.inflight;
    if (acked.length > 0) {
      this.#pumpOutbound();
      this.#notifyFlush();
    }
  }

  #onReset(reset: ResetPayload): void {
    // The scheduler may echo anything, secrets included, into the reason.
    const reason = scrubSecrets(reset.reason, this.#secrets());
    this.#log.warn({ code: reset.code, reason, retry_after_ms: reset.retry_after_ms }, 'session reset by scheduler');
    this.#forgetSession(`reset ${reset.code}`);
    // The old numbering is gone with the session: re-number on the next accept, and drop
    // business frames still queued from it (the scheduler sends them again in the new one).
    this.#startFreshStreams();
    this.#transportQueue.length = 0;
    if (typeof reset.retry_after_ms === 'number') {
      this.#retryAfterMs = retryAfterDelayMs(reset.retry_after_ms, this.#config.reconnect_max_delay_seconds);
    } else if (this.#resuming && reset.code.startsWith('E.SESSION.')) {
      // The scheduler no longer knows the session (it restarted): nothing is wrong with the link,
      // so the fresh handshake goes out at once instead of after a backoff. Only a refused resume
      // skips the wait, and the next attempt is a handshake, so this cannot spin.
      this.#log.info({ code: reset.code }, 'resume refused: handshaking afresh without backoff');
      this.#retryAfterMs = 0;
    }
    this.#resuming = false;
    const failure: FailureClass = isAuthErrorCode(reset.code) ? 'auth' : 'network';
    const error = new AstraError(reset.code, `session reset by scheduler: ${reset.code} ${reason}`, {
      details: { failure },
    });
    this.#pendingFailure = error;
    this.#rejectWaiters(error);
    // The scheduler closes the socket after a reset; close it ourselves in case it does not.
    setTimeout(() => this.#closeConnection(1000, 'reset', false), 1000).unref();
  }

  async #handleNumbered(frame: Frame, invalid?: FrameError): Promise<void> {
    if (!isOpenState(this.#state)) {
      this.#log.warn({ type: frame.type, id: frame.id, state: this.#state }, 'business frame before session accept dropped');
      return;
    }
    const seq = frame.session_seq;
    if (typeof seq !== 'number' || seq < 1) {
      this.stats.invalidFramesIn++;
      this.#log.warn({ type: frame.type, id: frame.id }, 'business frame without session_seq dropped');
      return;
    }
    const { status, delivered } = this.#recvWindow.offer(seq, invalid ? { frame, invalid } : { frame });
    this.#stall.observe(this.#recvWindow.base, this.#recvWindow.buffered);
    const durable = status === 'accepted' && !invalid ? this.#options.persistInbound?.(frame) : undefined;
    if (status !== 'accepted') {
      this.stats.duplicateFramesIn++;
      this.#log.debug({ session_seq: seq, id: frame.id, status, base: this.#recvWindow.base }, 'inbound frame not delivered');
    }
    await this.#deliver(delivered);
    this.stats.receiveBuffered = this.#recvWindow.buffered;
    const state = this.#recvWindow.ackState();
    const wantsFor = frame.ack?.request === true;
    const ack = this.#control(
      FrameType.ACK,
      { ok: true, ...(wantsFor ? { for: frame.id } : {}), ...state },
      undefined,
      { corr: frame.corr ?? null, ...(wantsFor ? { ackFor: frame.id } : {}) },
    );
    if (durable === undefined && this.#ackGate === undefined) {
      await this.#transmit(ack).catch(() => {});
      return;
    }
    // Acks wait, in order, until every frame they cover is durable; one computed on a connection that
    // has since gone is not sent (its numbers may mean other frames now; the peer retransmits anyway).
    const conn = this.#conn;
    const gate: Promise<void> = Promise.all([this.#ackGate, durable])
      .then(() => (this.#conn === conn ? this.#transmit(ack) : undefined))
      .catch(() => {})
      .finally(() => {
        if (this.#ackGate === gate) this.#ackGate = undefined;
      });
    this.#ackGate = gate;
  }

  /** Hands frames released by the receive window to the app (or to `onInvalid`), in order. */
  async #deliver(frames: Inbound[]): Promise<void> {
    for (const next of frames) {
      if (next.invalid) {
        try {
          this.#options.onInvalid?.(next.frame, next.invalid);
        } catch (err) {
          this.#log.error({ err, type: next.frame.type, id: next.frame.id }, 'invalid frame handler failed');
        }
        continue;
      }
      if (this.#options.expressTypes?.has(next.frame.type)) continue; // handled on arrival

      const outcome = await this.#appQueue.push(next.frame);
      if (outcome.dropped) {
        this.stats.appQueueDrops++;
        this.#log.warn(
          { type: outcome.dropped.type, id: outcome.dropped.id, policy: this.#config.session_app_queue_overflow },
          'app queue full; frame dropped',
        );
        this.#options.onDropped?.(outcome.dropped);
      }
    }
    this.stats.appQueueDepth = this.#appQueue.size;
  }

  /**
   * The receive window waited `session_recv_stall_seconds` for a frame that
   * never came. Waiting longer would hold every later frame forever, so: a
   * heartbeat says `healthy: false`, the frames held behind the gap (acked
   * by bitmap, so the scheduler will not send them again) are delivered,
   * and the session starts over with a fresh handshake.
   */
  #onRecvStall(): void {
    this.stats.recvStalls++;
    this.#log.warn(
      { missing_seq: this.#recvWindow.base + 1, buffered: this.#recvWindow.buffered, limit_s: this.#config.session_recv_stall_seconds },
      'receive window stuck behind a missing frame; resetting the session',
    );
    this.#sendHeartbeat();
    void this.#deliver(this.#recvWindow.takeBuffered()).catch((err: unknown) => {
      this.#log.error({ err }, 'delivering frames held behind a missing one failed');
    });
    this.stats.receiveBuffered = 0;
    this.#forgetSession('receive window stalled');
    this.#closeConnection(4000, 'receive window stalled', false);
  }

  // ---- outbound ----------------------------------------------------------

  /**
   * The error for a frame bigger than `max_outbound_frame_bytes` (with room
   * for the numbering added later), or undefined. Such a frame is never
   * sent: the scheduler would close the link, and a resume would send it
   * again, forever.
   */
  #checkOutboundSize(frame: Frame, text: string = JSON.stringify(frame)): AstraError | undefined {
    const limit = this.#config.max_outbound_frame_bytes;
    const bytes = Buffer.byteLength(text, 'utf8') + NUMBERING_ROOM_BYTES;
    if (bytes <= limit) return undefined;
    this.stats.outboundTooLarge++;
    return new AstraError(ErrorCode.FRAME_TOO_LARGE, `${frame.type} frame too large (${bytes} bytes, limit ${limit})`, {
      details: { bytes, limit, type: frame.type },
    });
  }

  /** What must never reach a log line, whatever the scheduler echoes. */
  #secrets(): Array<string | undefined> {
    return [this.#config.auth_token, this.#sessionToken];
  }

  #sender(): { role: 'worker'; id: string } {
    return { role: 'worker', id: this.#instanceId ?? this.#config.worker_name };
  }

  #control<T extends string>(
    type: T,
    payload: PayloadOf<T>,
    ackRequest?: boolean,
    extra: { corr?: string | null; ackFor?: string } = {},
  ): Frame<T> {
    return buildFrame(type, payload, {
      sender: this.#sender(),
      tenant: this.#config.tenant,
      ...(ackRequest ? { ackRequest } : {}),
      ...extra,
    });
  }

  /** Sends `frame`; `text` is its JSON when the caller already has it. */
  async #transmit(frame: Frame, text?: string): Promise<void> {
    const conn = this.#conn;
    if (!conn?.transport.isOpen) return;
    if (this.#log.isLevelEnabled?.('debug') !== false) this.#log.debug({ frame: redactSecrets(frame, this.#secrets()) }, 'frame out');
    this.stats.framesOut++;
    try {
      await conn.transport.send(text ?? JSON.stringify(frame));
    } catch (err) {
      // The close handler takes it from here; unacked frames are retransmitted later.
      this.#log.debug({ err, id: frame.id }, 'send failed');
    }
  }

  #pumpOutbound(): void {
    while (isOpenState(this.#state) && this.#conn && this.#outbox.length > 0 && this.#sendWindow.hasCredit) {
      const item = this.#outbox.shift() as OutboxItem;
      const entry = this.#sendWindow.push(item.id, (seq) => {
        const sender = this.#sender();
        // The sender id may have changed since send() (adopted instance id); both fields stay schema-valid.
        const frame = { ...item.frame, sender, session_seq: seq };
        // The text made at send() gets its number in front ("session_seq" is a new key there), unless the sender changed.
        const reuse = item.text !== undefined && item.frame.sender.id === sender.id && item.frame.session_seq === undefined;
        const text = reuse ? `{"session_seq":${seq},${(item.text as string).slice(1)}` : JSON.stringify(frame);
        return { item, frame, text };
      });
      void this.#transmit(entry.item.frame, entry.item.text);
      this.#scheduleRetransmit(entry.seq, 0);
      item.sent?.({ frame: entry.item.frame, acked: item.ack.promise });
      item.sent = undefined;
      item.unsent = undefined;
    }
    this.stats.outboxDepth = this.#outbox.length;
    this.stats.unacked = this.#sendWindow.inflight;
  }

  #scheduleRetransmit(seq: number, attempts: number): void {
    const delay = retransmitDelayMs(attempts, { baseMs: this.#config.ack_retry_base_ms, maxMs: this.#config.ack_retry_max_ms });
    const timer = setTimeout(() => this.#retransmit(seq, attempts), delay);
    timer.unref();
    const previous = this.#retx.get(seq);
    if (previous) clearTimeout(previous.timer);
    this.#retx.set(seq, { attempts, timer, sentAt: performance.now() });
  }

  #retransmit(seq: number, attempts: number): void {
    const entry = this.#sendWindow.get(seq);
    if (!entry || !this.#conn) return;
    if (attempts >= this.#config.ack_retry_attempts) {
      this.#log.warn({ session_seq: seq, id: entry.id, attempts }, 'no ack after every retry; treating the link as dead');
      this.#retx.delete(seq);
      this.#closeConnection(4000, 'ack timeout', false);
      return;
    }
    this.stats.retransmissions++;
    this.#log.debug({ session_seq: seq, id: entry.id, attempt: attempts + 1 }, 'retransmitting unacked frame');
    void this.#transmit(entry.item.frame, entry.item.text);
    this.#scheduleRetransmit(seq, attempts + 1);
  }

  #clearRetransmits(): void {
    for (const { timer } of this.#retx.values()) clearTimeout(timer);
    this.#retx.clear();
  }

  #notifyFlush(): void {
    if (!this.flushed) return;
    for (const waiter of this.#flushWaiters.splice(0)) waiter();
  }

  // ---- heartbeats ----------------------------------------------------------

  #startHeartbeats(): void {
    this.#stopHeartbeats();
    const tick = (): void => {
      this.#heartbeatTimer = setTimeout(() => {
        this.#sendHeartbeat();
        tick();
      }, heartbeatDelayMs({
        intervalSeconds: this.#config.heartbeat_interval_seconds,
        jitterSeconds: this.#config.heartbeat_jitter_seconds,
      }, this.#random));
      // Deliberately ref'd: a live session keeps the process alive until close().
    };
    tick();
  }

  #stopHeartbeats(): void {
    if (this.#heartbeatTimer) clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  #sendHeartbeat(): void {
    if (!isOpenState(this.#state)) return;
    const extra = this.#options.heartbeatMetrics?.() ?? { inflight: 0 };
    const frame = this.#control(FrameType.HEARTBEAT, {
      healthy: !this.#stall.stuck && (this.#options.healthy?.() ?? true),
      metrics: {
        ...this.#host.sample(),
        ...extra,
        inflight: Math.max(0, Math.floor(extra.inflight)),
        unacked_frames: this.#sendWindow.inflight,
        outbox_depth: this.#outbox.length,
        recv_buffered: this.#recvWindow.buffered,
        app_queue_depth: this.#appQueue.size,
        dropped_frames: this.stats.transportQueueDrops + this.stats.appQueueDrops,
        retransmissions: this.stats.retransmissions,
        ...(this.#latency.ms !== undefined ? { latency_ms: this.#latency.ms } : {}),
      },
    });
    this.stats.heartbeatsSent++;
    void this.#transmit(frame);
  }

  // ---- waiting for control frames ---------------------------------------------

  #waitFrame(type: string, timeoutMs: number): Promise<Frame> {
    return this.#wait((frame) => frame.type === type, timeoutMs, type);
  }

  async #waitAck(id: string, timeoutMs: number): Promise<AckPayload> {
    const frame = await this.#wait(
      (f) => f.type === FrameType.ACK && ((f.payload as AckPayload).for === id || f.ack?.for === id),
      timeoutMs,
      `ack of ${id}`,
    );
    return frame.payload as AckPayload;
  }

  #wait(match: (frame: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#controlWaiters.delete(waiter);
        reject(new AstraError(ErrorCode.TIMEOUT, `no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: ControlWaiter = {
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.#controlWaiters.add(waiter);
    });
  }

  #rejectWaiters(err: unknown): void {
    for (const waiter of this.#controlWaiters) waiter.reject(err);
    this.#controlWaiters.clear();
  }
}
