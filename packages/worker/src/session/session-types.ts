import type { AstraError, Frame, FrameError, Logger, PayloadOf, RegisterPayload, Transport } from '@astraflow/protocol';
import type { CompiledSessionConfig } from './session-config.js';
import type { SessionState } from './session-state.js';

/**
 * What the session hands up. `frame`: a business frame, in order, exactly
 * once (what {@link Session.receive} yields). `invalid`: a numbered frame
 * that failed its size, envelope or payload check, as far as it could be
 * read; it took its turn in the window and was acked, so its sender gets an
 * answer only from whoever receives this. `dropped`: a delivered frame the
 * app queue's overflow policy dropped; also acked, so it must be answered.
 */
export type Delivery =
  | { kind: 'frame'; frame: Frame }
  | { kind: 'invalid'; frame: Frame; error: FrameError }
  | { kind: 'dropped'; frame: Frame };

/**
 * Where a session hands what does not go through {@link Session.receive}
 * (part of {@link SessionUpstream}). The worker's router implements it.
 */
export interface DeliverySink {
  /**
   * A business frame the moment it arrives, ahead of everything queued
   * (only while the session is open). Return true to take it out of the
   * in-order stream: it still takes its turn in the window for acks and
   * de-duplication. Called again for a retransmitted copy, so taking must
   * be idempotent.
   */
  arrive?(frame: Frame): boolean;
  /** `invalid` and `dropped` deliveries, in window order; must not throw (a returned promise is not awaited). */
  deliver(delivery: Delivery): void | Promise<void>;
}

/**
 * The layer above a session, attached once it exists and before
 * {@link Session.start} (see {@link Session.attach}): where deliveries go,
 * and what heartbeats report about the work. Wiring flows one way: the
 * session never names what sits on top of it.
 */
export interface SessionUpstream extends DeliverySink {
  /** Extra heartbeat metrics; must include `inflight`. Overrides {@link SessionOptions.heartbeatMetrics}. */
  heartbeatMetrics?(): { inflight: number } & Record<string, number>;
  /** The heartbeat's `healthy` flag. Overrides {@link SessionOptions.healthy}. */
  healthy?(): boolean;
  /** Makes a frame durable before it is acked. Overrides {@link SessionOptions.persistInbound}. */
  persistInbound?(frame: Frame): Promise<void> | undefined;
}

/** Options of {@link Session}. */
export interface SessionOptions {
  /** The session's settings, compiled: `compileSessionConfig(settings)`. */
  config: CompiledSessionConfig;
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

/** A fresh, zeroed {@link SessionStats}. */
export function emptySessionStats(): SessionStats {
  return {
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
}

/** Events of {@link Session}. */
export interface SessionEvents {
  state: [state: SessionState, previous: SessionState];
  ready: [info: { resumed: boolean; sessionId: string }];
  drain: [payload: PayloadOf<'control.drain'>];
  fatal: [error: AstraError];
}

/**
 * The link the session's parts use to reach the wire: each part gets this
 * (built by the session) instead of the session itself, so parts never
 * call back into one another.
 */
export interface SessionLink {
  /** Sends a frame on the current connection (`text`: its JSON, when already made); a no-op without one. Never rejects. */
  transmit(frame: Frame, text?: string): Promise<void>;
  /** Builds a session (`control.*`) frame from this worker. */
  control<T extends string>(
    type: T,
    payload: PayloadOf<T>,
    ackRequest?: boolean,
    extra?: { corr?: string | null; ackFor?: string },
  ): Frame<T>;
  /** The sender of outgoing frames (the adopted instance id, once known). */
  sender(): { role: 'worker'; id: string };
  /** True while business frames flow (READY or DRAINING with a connection). */
  isOpen(): boolean;
  /** The current connection, as an identity token (undefined between connections). */
  connection(): object | undefined;
  /** Ends the current connection as failed: the reconnect loop takes over. */
  dropConnection(reason: string): void;
  readonly stats: SessionStats;
  readonly log: Logger;
}
