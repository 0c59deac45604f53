import type { Frame, Logger } from '@astraflow/protocol';
import type { FrameTamper } from './frame-tamper.js';

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
  /** Rewrites the numbered frame before it goes on the wire (fault injection). */
  tamper?: FrameTamper;
}

/** Options of {@link SchedulerCore.dispatch} and the package commands. */
export interface SchedulerCommandOptions {
  id?: string;
  seq?: number | null;
  /** Rewrites the numbered frame before it goes on the wire (fault injection). */
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
