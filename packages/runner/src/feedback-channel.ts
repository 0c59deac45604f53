import { AstraError, ErrorCode, createNoopLogger, errorMessage } from '@astraflow/protocol';
import type { FeedbackChunk, Logger } from '@astraflow/protocol';
import { checkTextChunk, parseFeedbackBody } from './feedback-body.js';
import type { FeedbackBody, FeedbackChannelName, HandlerFeedback } from './types.js';

/** Options of {@link createFeedbackChannel}. */
export interface FeedbackChannelOptions {
  /** Delivers one frame; resolving means the worker accepted it (the channel sends one frame at a time). */
  sink(body: FeedbackBody): Promise<void>;
  /** Chunks held while a frame is in flight before the oldest are dropped (default 4096). */
  maxPendingChunks?: number;
  /** Chunks per frame (default 256). */
  maxChunksPerFrame?: number;
  logger?: Logger;
}

/** Default of {@link FeedbackChannelOptions.maxPendingChunks}. */
export const DEFAULT_MAX_PENDING_CHUNKS = 4096;
/** Default of {@link FeedbackChannelOptions.maxChunksPerFrame}. */
export const DEFAULT_MAX_CHUNKS_PER_FRAME = 256;

interface Waiter {
  resolve(): void;
  reject(error: AstraError): void;
}

/**
 * Bodies not yet sent. Only the last segment may be open; `send()` seals
 * the segment it joins so bodies queued after it cannot overwrite its
 * stage/progress/message.
 */
interface Segment {
  chunks: FeedbackChunk[];
  stage?: string;
  progress?: number;
  message?: string;
  metrics?: Record<string, number>;
  metadata?: Record<string, unknown>;
  sealed: boolean;
  waiters: Waiter[];
  failure?: unknown;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `${name} must be an integer ≥ 1, got ${String(value)}`);
  }
  return value;
}

/** The channel limits with defaults applied; throws `E.CONFIG.INVALID` for non-positive or fractional values. */
export function resolveFeedbackLimits(options: Pick<FeedbackChannelOptions, 'maxPendingChunks' | 'maxChunksPerFrame'>): {
  maxPendingChunks: number;
  maxChunksPerFrame: number;
} {
  return {
    maxPendingChunks: positiveInt(options.maxPendingChunks, DEFAULT_MAX_PENDING_CHUNKS, 'feedback.maxPendingChunks'),
    maxChunksPerFrame: positiveInt(options.maxChunksPerFrame, DEFAULT_MAX_CHUNKS_PER_FRAME, 'feedback.maxChunksPerFrame'),
  };
}

/**
 * The ordered, bounded feedback stream of one task.
 *
 * Frames go to the sink one at a time, in call order. `send()` waits for
 * the frame carrying its body (backpressure). `sendNowait()` and
 * `emitText()` return at once: while a frame is in flight their bodies
 * coalesce into one pending body (chunks appended, at most
 * `maxChunksPerFrame` per frame; stage/progress/message take the latest
 * value; metrics and metadata merge key by key, latest wins). Beyond
 * `maxPendingChunks` pending chunks the oldest are dropped and the next
 * frame's `metadata.dropped_chunks` says how many.
 */
export class FeedbackChannel implements HandlerFeedback {
  readonly #sink: (body: FeedbackBody) => Promise<void>;
  readonly #maxPending: number;
  readonly #maxPerFrame: number;
  readonly #logger: Logger;
  readonly #segments: Segment[] = [];
  readonly #textIndex = new Map<string, number>();
  #idleWaiters: Array<(idle: boolean) => void> = [];
  #pendingChunks = 0;
  #droppedUnreported = 0;
  #droppedTotal = 0;
  #framesSent = 0;
  #pumping = false;
  #closed = false;
  #warnedClosed = false;

  constructor(options: FeedbackChannelOptions) {
    this.#sink = options.sink;
    const limits = resolveFeedbackLimits(options);
    this.#maxPending = limits.maxPendingChunks;
    this.#maxPerFrame = limits.maxChunksPerFrame;
    this.#logger = options.logger ?? createNoopLogger();
  }

  /** Chunks dropped so far because too many were pending. */
  get droppedChunks(): number {
    return this.#droppedTotal;
  }

  /** Frames the sink accepted so far. */
  get framesSent(): number {
    return this.#framesSent;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** {@inheritDoc HandlerFeedback.send} */
  send(body: FeedbackBody): Promise<void> {
    let parsed: FeedbackBody;
    try {
      parsed = parseFeedbackBody(body);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) {
      return Promise.reject(new AstraError(ErrorCode.RUNNER_CANCELLED, 'feedback is closed: the task has ended'));
    }
    return new Promise<void>((resolve, reject) => {
      const segment = this.#enqueue(parsed);
      segment.sealed = true;
      segment.waiters.push({ resolve, reject });
      this.#kick();
    });
  }

  /** {@inheritDoc HandlerFeedback.sendNowait} */
  sendNowait(body: FeedbackBody): void {
    const parsed = parseFeedbackBody(body);
    if (this.#ignoreWhenClosed()) return;
    this.#enqueue(parsed);
    this.#kick();
  }

  /** {@inheritDoc HandlerFeedback.emitText} */
  emitText(text: string, channel: FeedbackChannelName = 'log'): void {
    checkTextChunk(text, channel);
    if (this.#ignoreWhenClosed()) return;
    // A per-channel index lets the receiver see where dropped chunks were.
    const index = this.#textIndex.get(channel) ?? 0;
    this.#textIndex.set(channel, index + 1);
    this.#enqueue({ chunks: [{ channel, index, text }] });
    this.#kick();
  }

  /**
   * Resolves `true` once everything queued has been delivered, or `false`
   * when `timeoutMs` passes first (nothing is discarded by a timeout).
   */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.#isIdle()) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      const done = (idle: boolean): void => {
        clearTimeout(timer);
        resolve(idle);
      };
      this.#idleWaiters.push(done);
    });
  }

  /**
   * Stops the channel: pending bodies are discarded, waiting `send()` calls
   * reject with `E.RUNNER.CANCELLED`, later calls are ignored (`send()` rejects).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const discarded = this.#pendingChunks;
    // The error (and its stack) only when someone is still waiting: most channels close empty.
    let error: AstraError | undefined;
    for (const segment of this.#segments.splice(0)) {
      for (const waiter of segment.waiters) {
        error ??= new AstraError(ErrorCode.RUNNER_CANCELLED, 'feedback is closed: the task has ended');
        waiter.reject(error);
      }
    }
    this.#pendingChunks = 0;
    if (discarded > 0) this.#logger.warn({ discarded_chunks: discarded }, 'task ended before its feedback was delivered');
    this.#notifyIdle(false);
  }

  #ignoreWhenClosed(): boolean {
    if (!this.#closed) return false;
    if (!this.#warnedClosed) {
      this.#warnedClosed = true;
      this.#logger.debug('feedback after the task ended is ignored');
    }
    return true;
  }

  #enqueue(body: FeedbackBody): Segment {
    let segment = this.#segments.at(-1);
    if (segment === undefined || segment.sealed) {
      segment = { chunks: [], sealed: false, waiters: [] };
      this.#segments.push(segment);
    }
    if (body.stage !== undefined) segment.stage = body.stage;
    if (body.progress !== undefined) segment.progress = body.progress;
    if (body.message !== undefined) segment.message = body.message;
    if (body.metrics !== undefined) segment.metrics = { ...segment.metrics, ...body.metrics };
    if (body.metadata !== undefined) segment.metadata = { ...segment.metadata, ...body.metadata };
    if (body.chunks !== undefined && body.chunks.length > 0) {
      for (const chunk of body.chunks) segment.chunks.push(chunk);
      this.#pendingChunks += body.chunks.length;
      this.#enforceLimit();
    }
    return segment;
  }

  #enforceLimit(): void {
    let excess = this.#pendingChunks - this.#maxPending;
    if (excess <= 0) return;
    for (const segment of this.#segments) {
      if (excess <= 0) break;
      const n = Math.min(excess, segment.chunks.length);
      if (n === 0) continue;
      segment.chunks.splice(0, n);
      excess -= n;
      this.#pendingChunks -= n;
      this.#droppedUnreported += n;
      this.#droppedTotal += n;
    }
  }

  #kick(): void {
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (!this.#closed) {
        const segment = this.#segments[0];
        if (segment === undefined) break;
        const frame = this.#takeFrame(segment);
        const drained = segment.chunks.length === 0;
        // A drained segment leaves the queue before the await, so bodies queued meanwhile start a new one.
        if (drained) this.#segments.shift();
        if (frame !== undefined) {
          try {
            await this.#sink(frame);
            this.#framesSent += 1;
          } catch (error) {
            segment.failure ??= error;
            this.#logger.warn({ err: errorMessage(error) }, 'feedback frame was not accepted');
          }
        }
        if (drained) this.#settle(segment);
      }
    } finally {
      this.#pumping = false;
      if (this.#isIdle()) this.#notifyIdle(true);
    }
  }

  #takeFrame(segment: Segment): FeedbackBody | undefined {
    const frame: FeedbackBody = {};
    let filled = false;
    if (segment.stage !== undefined) frame.stage = segment.stage;
    if (segment.progress !== undefined) frame.progress = segment.progress;
    if (segment.message !== undefined) frame.message = segment.message;
    if (segment.metrics !== undefined) frame.metrics = segment.metrics;
    filled = Object.keys(frame).length > 0;
    delete segment.stage;
    delete segment.progress;
    delete segment.message;
    delete segment.metrics;
    if (segment.chunks.length > 0) {
      frame.chunks = segment.chunks.splice(0, this.#maxPerFrame);
      this.#pendingChunks -= frame.chunks.length;
      filled = true;
    }
    let metadata = segment.metadata;
    delete segment.metadata;
    if (this.#droppedUnreported > 0) {
      metadata = { ...metadata, dropped_chunks: this.#droppedUnreported };
      this.#droppedUnreported = 0;
    }
    if (metadata !== undefined) {
      frame.metadata = metadata;
      filled = true;
    }
    return filled ? frame : undefined;
  }

  #settle(segment: Segment): void {
    if (segment.waiters.length === 0) return;
    if (segment.failure === undefined) {
      for (const waiter of segment.waiters) waiter.resolve();
      return;
    }
    const cause = segment.failure;
    const error = AstraError.isInstance(cause)
      ? cause
      : new AstraError(ErrorCode.RUNNER_FAILURE, `feedback frame was not accepted: ${errorMessage(cause)}`, { cause });
    for (const waiter of segment.waiters) waiter.reject(error);
  }

  #isIdle(): boolean {
    return this.#segments.length === 0 && !this.#pumping;
  }

  #notifyIdle(idle: boolean): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter(idle);
  }
}

/** Creates the {@link FeedbackChannel} of one task. */
export function createFeedbackChannel(options: FeedbackChannelOptions): FeedbackChannel {
  return new FeedbackChannel(options);
}
