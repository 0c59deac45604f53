import { EventEmitter } from 'node:events';
import { hostname as osHostname } from 'node:os';
import {
  AstraError,
  ErrorCode,
  FrameType,
  buildFrame,
  createNoopLogger,
  isControlType,
  redactSecrets,
  scrubSecrets,
  type FailureClass,
  type Frame,
  type Logger,
  type PayloadOf,
  type ResetPayload,
  type SessionAcceptPayload,
} from '@astraflow/protocol';
import { reconnectDelayMs } from './backoff.js';
import { ControlWaiters } from './control-waiters.js';
import { deferred } from './deferred.js';
import { establishFailure, establishSession } from './establish.js';
import { Heartbeat } from './heartbeat.js';
import { InboundStream, readInbound } from './inbound.js';
import { WorkerIdentity } from './instance-id-store.js';
import { OutboundStream } from './outbound.js';
import { fatalFor, failureOf, nextReady, sleep } from './reconnect-policy.js';
import { readReset } from './reset.js';
import type { CompiledSessionConfig } from './session-config.js';
import { isOpenState, type SessionState } from './session-state.js';
import { emptySessionStats, type OutboundReceipt, type SendOptions, type SessionEvents } from './session-types.js';
import type { SessionLink, SessionOptions, SessionStats, SessionUpstream } from './session-types.js';
import { ConnectionLost, Wire, type Connection } from './wire.js';

/**
 * The worker's control-plane session (docs/protocol.md §3–§5). It knows
 * nothing of business payloads: numbered frames come out of
 * {@link Session.receive} in order and exactly once, and go in through
 * {@link Session.send}, which blocks on window credit and retransmits until
 * acked — across reconnects, and into a fresh session if the old one is
 * lost. This file is the state machine (types in `session-types.ts`); its
 * parts each do one job: `establish.ts` (handshake, register, resume),
 * `heartbeat.ts`, `inbound.ts` (receive window, acks, stalls), `outbound.ts`
 * (send window, credit, retransmission, size limit), `wire.ts` (the
 * connection), `control-waiters.ts`, `reset.ts`, `reconnect-policy.ts`.
 */
export class Session extends EventEmitter<SessionEvents> {
  readonly #config: CompiledSessionConfig;
  readonly #log: Logger;
  readonly #options: SessionOptions;
  readonly #random: () => number;
  readonly #identity: WorkerIdentity;
  readonly #waiters = new ControlWaiters();
  readonly #outbound: OutboundStream;
  readonly #inbound: InboundStream;
  readonly #heartbeat: Heartbeat;
  readonly #wire: Wire;
  readonly #linkToParts: SessionLink;
  #upstream: SessionUpstream | undefined;

  #state: SessionState = 'NEW';
  #sessionId: string | undefined;
  #sessionToken: string | undefined;
  #stopping = false;
  #draining = false;
  #attempt = 0;
  #retryAfterMs: number | undefined;
  #loop: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #pendingFailure: AstraError | undefined;
  #expectAccept = false;
  /** A `control.resume` is out and not yet accepted. */
  #resuming = false;
  #lastAccept: { resumed: boolean; sessionId: string } | undefined;
  readonly #done = deferred();
  /** Settles when the session is closed: resolves on a requested stop, rejects with a fatal error. */
  readonly done: Promise<void> = this.#done.promise;
  readonly stats: SessionStats = emptySessionStats();

  constructor(options: SessionOptions) {
    super();
    this.#options = options;
    this.#config = options.config;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'session' });
    this.#random = options.random ?? Math.random;
    this.#identity = new WorkerIdentity(this.#config.workerInstanceId, this.#config.instanceIdFile, this.#log);
    this.#wire = new Wire(options.transport, this.#log, this.stats, () => this.#secrets());
    const link = this.#link();
    this.#linkToParts = link;
    this.#outbound = new OutboundStream(link, this.#config);
    this.#inbound = new InboundStream(link, this.#config, {
      persist: (frame) =>
        this.#upstream?.persistInbound ? this.#upstream.persistInbound(frame) : options.persistInbound?.(frame),
      onStall: () => this.#onRecvStall(),
    });
    const worker = {
      heartbeatMetrics: () => this.#upstream?.heartbeatMetrics?.() ?? options.heartbeatMetrics?.() ?? { inflight: 0 },
      healthy: () => this.#upstream?.healthy?.() ?? options.healthy?.() ?? true,
    };
    const sources = { inbound: this.#inbound, outbound: this.#outbound, worker };
    this.#heartbeat = new Heartbeat(link, this.#config, sources, this.#random);
  }

  /** Current state. */
  get state(): SessionState {
    return this.#state;
  }

  /** The persisted identity, once known. */
  get workerInstanceId(): string | undefined {
    return this.#identity.id;
  }

  /** Current session id, if a session is held. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  /** Attaches the layer above (see {@link SessionUpstream}); before {@link start}, else early frames miss it. */
  attach(upstream: SessionUpstream): void {
    this.#upstream = upstream;
    this.#inbound.sink = upstream;
  }

  /** Starts connecting in the background. Resolves once the persisted identity is loaded. */
  async start(): Promise<void> {
    if (this.#loop) return;
    await this.#identity.load();
    this.#loop = this.#run();
  }

  /** Resolves when the session is READY (immediately if it is). */
  whenReady(timeoutMs?: number): Promise<void> {
    if (isOpenState(this.#state)) return Promise.resolve();
    return nextReady(this, timeoutMs, () => `state ${this.#state}`);
  }

  /** Next delivered business frame, in order, exactly once. */
  receive(): Promise<Frame> {
    return this.#inbound.receive();
  }

  /**
   * Sends a business (`biz.*` / `ext.*`) frame on the reliable stream.
   * Resolves once the frame holds a place in the send window (waiting for
   * credit if needed; it never drops); `acked` settles when the scheduler
   * acknowledges it. Frames are kept across reconnects and re-sent, with
   * the same id, in a fresh session if the old one is lost.
   */
  send<T extends string>(type: T, payload: PayloadOf<T>, options: SendOptions = {}): Promise<OutboundReceipt> {
    if (this.#state === 'CLOSED' && !isControlType(type)) {
      return Promise.reject(new AstraError(ErrorCode.TRANSPORT_FAILURE, `session closed; ${type} not sent`));
    }
    return this.#outbound.send(type, payload, options);
  }

  /** Sends a fresh `control.register` (inventory changed). Acked, no new accept. A no-op while not connected: the next handshake registers anyway. */
  async reregister(): Promise<void> {
    if (!isOpenState(this.#state) || !this.#wire.current) return;
    const frame = this.#control(FrameType.REGISTER, this.#options.register(), true);
    const acked = this.#waiters.ack(frame.id, this.#config.acceptTimeoutMs);
    await this.#wire.transmit(frame);
    await acked;
  }

  /** Enters DRAINING: the session keeps delivering and sending until {@link Session.close}. */
  drain(): void {
    this.#draining = true;
    if (this.#state === 'READY') this.#setState('DRAINING');
  }

  /** True when every outbound frame has been acked (nothing queued, nothing unacked). */
  get flushed(): boolean {
    return this.#outbound.flushed;
  }

  /** Waits until {@link flushed}, or `timeoutMs`; resolves with whether it got there. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.#outbound.flush(timeoutMs);
  }

  /** Closes the session for good (after {@link flush} if you want answers delivered). */
  async close(): Promise<void> {
    if (this.#stopping) return this.#loop?.catch(() => {});
    this.#stopping = true;
    this.#abort.abort();
    this.#wire.close(1000, 'worker shutting down');
    await this.#loop?.catch(() => {});
    this.#finish();
  }

  #finish(error?: AstraError): void {
    if (this.#state === 'CLOSED') return;
    this.#heartbeat.stop();
    this.#inbound.stop();
    this.#outbound.fail(error ?? new AstraError(ErrorCode.TRANSPORT_FAILURE, 'session closed'));
    this.#setState('CLOSED');
    if (error) {
      this.emit('fatal', error);
      this.#done.reject(error);
    } else {
      this.#done.resolve();
    }
  }

  // ---- the state machine: connect, establish, run, back off, again ------------

  async #run(): Promise<void> {
    while (!this.#stopping) {
      let failure: FailureClass = 'network';
      let cause: unknown;
      try {
        await this.#connectOnce();
      } catch (err) {
        cause = err;
        failure = failureOf(err);
      }
      this.#teardownConnection();
      if (this.#stopping) break;
      const fatal = fatalFor(failure, cause, this.#config.reconnect);
      if (fatal) {
        this.#log.error({ code: fatal.code }, fatal.message);
        this.#finish(fatal);
        return;
      }
      this.#attempt++;
      const delay = this.#retryAfterMs ?? reconnectDelayMs(this.#attempt, this.#config.reconnect, this.#random);
      this.#retryAfterMs = undefined;
      this.#setState('BACKOFF');
      this.#log.info(
        { attempt: this.#attempt, delay_ms: delay, failure, err: cause instanceof Error ? cause.message : undefined },
        'reconnecting after delay',
      );
      await sleep(delay, this.#abort.signal);
      if (this.#stopping) break;
      this.stats.reconnects++;
      this.#setState('NEW');
    }
    this.#finish();
  }

  async #connectOnce(): Promise<void> {
    this.#setState('HANDSHAKING');
    const conn = await this.#wire.open((raw) => this.#onMessage(raw), this.#abort.signal);
    // Any close fails whatever we are waiting for on this connection.
    void conn.closed.then((info) => this.#waiters.rejectAll(new ConnectionLost(info)));
    if (this.#stopping) this.#wire.close(1000, 'worker shutting down');
    else await this.#establish(conn);
    const info = await conn.closed;
    const failure = this.#pendingFailure;
    this.#pendingFailure = undefined;
    if (this.#stopping || conn.closing) return;
    throw failure ?? (AstraError.isInstance(info.error) ? info.error : new ConnectionLost(info));
  }

  async #establish(conn: Connection): Promise<void> {
    try {
      await establishSession({
        link: this.#linkToParts,
        waiters: this.#waiters,
        config: this.#config,
        hostname: this.#options.hostname ?? osHostname(),
        instanceId: this.#identity.id,
        resume:
          this.#sessionId && this.#sessionToken
            ? { sessionId: this.#sessionId, sessionToken: this.#sessionToken, lastSeenSeq: this.#inbound.base }
            : undefined,
        register: () => this.#options.register(),
        expectAccept: (resuming) => {
          this.#expectAccept = true;
          if (resuming) this.#resuming = true;
        },
        registered: () => {
          if (this.#state === 'HANDSHAKING') this.#setState('REGISTERED');
        },
      });
      this.#resuming = false;
      // `ready` once the adopted identity is on disk, so a crash right after READY keeps it.
      await this.#identity.persisted();
      if (this.#lastAccept && isOpenState(this.#state)) this.emit('ready', this.#lastAccept);
    } catch (err) {
      this.#expectAccept = false;
      if (conn.closing || !conn.transport.isOpen) return;
      this.#log.warn({ err }, 'session establishment failed');
      const outcome = establishFailure(err, this.#sessionId !== undefined);
      if (outcome.report) this.#pendingFailure = outcome.report;
      if (outcome.forget) this.#forgetSession('resume not accepted in time');
      this.#wire.close(4000, 'session establishment failed', false);
    }
  }

  // ---- frames in ----------------------------------------------------------------

  /**
   * Parses each frame as it arrives. Session frames (acks, accept, reset,
   * drain) are handled at once; only numbered business frames wait in the
   * transport queue. Otherwise an ack could sit behind business frames held
   * up by a full app queue, while the handlers that would drain that queue
   * wait for window credit only that ack can give.
   */
  #onMessage(raw: string): void {
    const read = readInbound(raw, this.#config.maxFrameBytes, { stats: this.stats, log: this.#log });
    if (!read) return;
    if (!read.invalid && this.#log.isLevelEnabled?.('debug') !== false) {
      this.#log.debug({ frame: redactSecrets(read.frame, this.#secrets()) }, 'frame in');
    }
    if (!read.invalid && isControlType(read.frame.type)) this.#handleControl(read.frame);
    else this.#inbound.arrive(read);
  }

  #handleControl(frame: Frame): void {
    switch (frame.type) {
      case FrameType.ACK:
        this.#outbound.onAck(frame as Frame<'control.ack'>);
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
    this.#waiters.offer(frame);
  }

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
    this.#identity.adopt(accept.worker_instance_id);
    this.#lastAccept = { resumed, sessionId: accept.session_id };
    this.#attempt = 0;
    this.#setState(this.#draining ? 'DRAINING' : 'READY');
    this.#log.info({ session_id: accept.session_id, resumed, worker_instance_id: this.#identity.id }, 'session ready');
    if (resumed) this.#outbound.retransmitAll();
    this.#heartbeat.start();
    this.#outbound.pump();
  }

  #onReset(reset: ResetPayload): void {
    // The scheduler may echo anything, secrets included, into the reason.
    const reason = scrubSecrets(reset.reason, this.#secrets());
    this.#log.warn({ code: reset.code, reason, retry_after_ms: reset.retry_after_ms }, 'session reset by scheduler');
    this.#forgetSession(`reset ${reset.code}`);
    // The old numbering is gone with the session: re-number on the next accept, and drop
    // business frames still queued from it (the scheduler sends them again in the new one).
    this.#startFreshStreams();
    this.#inbound.clearTransportQueue();
    const outcome = readReset(reset, reason, {
      resuming: this.#resuming,
      reconnectMaxSeconds: this.#config.reconnect.maxSeconds,
    });
    if (outcome.handshakeAtOnce) this.#log.info({ code: reset.code }, 'resume refused: handshaking afresh without backoff');
    if (outcome.retryAfterMs !== undefined) this.#retryAfterMs = outcome.retryAfterMs;
    this.#resuming = false;
    this.#pendingFailure = outcome.error;
    this.#waiters.rejectAll(outcome.error);
    // The scheduler closes the socket after a reset; close it ourselves in case it does not.
    setTimeout(() => this.#wire.close(1000, 'reset', false), 1000).unref();
  }

  /**
   * The receive window waited `session_recv_stall_seconds` for a frame that
   * never came. Waiting longer would hold every later frame forever, so: a
   * heartbeat says `healthy: false`, the frames held behind the gap (acked
   * by bitmap, so the scheduler will not send them again) are delivered,
   * and the session starts over with a fresh handshake.
   */
  #onRecvStall(): void {
    this.#heartbeat.send();
    this.#inbound.releaseBuffered();
    this.#forgetSession('receive window stalled');
    this.#wire.close(4000, 'receive window stalled', false);
  }

  // ---- connection bookkeeping -----------------------------------------------------

  /** A fresh session numbers both streams from 1 again; unacked frames are requeued (see `OutboundStream`). */
  #startFreshStreams(): void {
    const requeued = this.#outbound.requeueUnacked();
    this.#inbound.reset();
    if (requeued > 0) this.#log.info({ count: requeued }, 'requeueing unacked frames into the new session');
  }

  #forgetSession(reason: string): void {
    if (this.#sessionId) this.#log.info({ session_id: this.#sessionId, reason }, 'forgetting session');
    this.#sessionId = undefined;
    this.#sessionToken = undefined;
  }

  #teardownConnection(): void {
    this.#resuming = false;
    this.#heartbeat.stop();
    this.#outbound.clearRetransmits();
    this.#wire.clear();
    this.#inbound.clearTransportQueue();
  }

  #setState(next: SessionState): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#log.debug({ from: previous, to: next }, 'session state');
    this.emit('state', next, previous);
  }

  // ---- frames out -------------------------------------------------------------------

  /** What the parts may do with the wire (see {@link SessionLink}). */
  #link(): SessionLink {
    return {
      transmit: (frame, text) => this.#wire.transmit(frame, text),
      control: (type, payload, ackRequest, extra) => this.#control(type, payload, ackRequest, extra),
      sender: () => this.#sender(),
      isOpen: () => isOpenState(this.#state) && this.#wire.current !== undefined,
      connection: () => this.#wire.current,
      dropConnection: (reason) => this.#wire.close(4000, reason, false),
      stats: this.stats,
      log: this.#log,
    };
  }

  /** What must never reach a log line, whatever the scheduler echoes. */
  #secrets(): Array<string | undefined> {
    return [this.#config.authToken, this.#sessionToken];
  }

  #sender(): { role: 'worker'; id: string } {
    return { role: 'worker', id: this.#identity.id ?? this.#config.workerName };
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
}
