import type { Frame, FrameError } from '@astraflow/protocol';
import type { Outbox } from '../outbox.js';

/** Why a frame did not reach its handler. */
export type DropReason = 'queue_overflow' | 'cooldown' | 'shutdown' | 'overloaded';

/** Per-invocation context given to a {@link RouteHandler}. */
export interface RouteContext {
  /** Aborted on shutdown, and on `handler_dispatch_timeout_seconds` unless the handler owns its timeout. */
  signal: AbortSignal;
  /** Where replies go (the session's reliable stream). */
  outbox: Outbox;
  /** How long the frame waited in its queue before this invocation (ms). */
  queuedMs: number;
}

/**
 * A handler for one frame type. Register your own for `ext.<vendor>.*`
 * types with {@link Router.register}.
 */
export interface RouteHandler {
  /**
   * Called as soon as the frame arrives, before it is queued. Return false
   * when the frame was dealt with here (e.g. refused and answered) and must
   * not be queued.
   */
  admit?(frame: Frame): boolean;
  /** Runs the frame; the invocation holds an in-flight slot until this settles. */
  handle(frame: Frame, context: RouteContext): Promise<void>;
  /** A frame that will never reach `handle`: answer it if the peer waits for an answer. */
  onDropped?(frame: Frame, reason: DropReason): void;
  /**
   * A frame of this type that failed its size, envelope or payload check
   * (as far as it could be read). The session acked it, so the scheduler
   * waits for an answer from here, not for a retransmission.
   */
  rejectInvalid?(frame: Frame, error: FrameError): void | Promise<void>;
  /** True when the handler applies `handler_dispatch_timeout_seconds` itself (the dispatch handler answers `E.TIMEOUT`). */
  ownsTimeout?: boolean;
  /**
   * Asked before a queued frame takes an in-flight slot. Return a release
   * function when it may start now (the router calls it once the invocation
   * settles), or undefined to leave it queued: later frames that may start
   * go first, so a frame waiting for its own limit (e.g. a node type's)
   * neither holds a slot nor blocks the rest. Frames passed over keep their order.
   */
  claim?(frame: Frame): (() => void) | undefined;
  /** Frames queued longer than this (ms) are dropped with reason `overloaded`; 0 or absent = no limit. */
  readonly maxQueueWaitMs?: number;
}
