import { AstraError, ErrorCode, createNoopLogger, type Frame, type Logger } from '@astraflow/protocol';
import type { Settings } from '@astraflow/config';
import type { Outbox } from '../outbox.js';
import { BoundedQueue } from '../queue/bounded-queue.js';
import { FailureCooldown } from './failure-cooldown.js';
import { Semaphore } from './semaphore.js';

/** Why a frame did not reach its handler. */
export type DropReason = 'queue_overflow' | 'cooldown' | 'shutdown';

/** Per-invocation context given to a {@link RouteHandler}. */
export interface RouteContext {
  /** Aborted on shutdown, and on `handler_dispatch_timeout_seconds` unless the handler owns its timeout. */
  signal: AbortSignal;
  /** Where replies go (the session's reliable stream). */
  outbox: Outbox;
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
  /** True when the handler applies `handler_dispatch_timeout_seconds` itself (the dispatch handler answers `E.TIMEOUT`). */
  ownsTimeout?: boolean;
}

/** The routing settings (names as in WORKER.md). */
export type RouterConfig = Pick<
  Settings,
  | 'handler_dispatch_max_inflight'
  | 'handler_dispatch_queue_max'
  | 'handler_dispatch_queue_overflow'
  | 'handler_dispatch_queue_idle_seconds'
  | 'handler_dispatch_timeout_seconds'
  | 'handler_dispatch_max_failures'
  | 'handler_dispatch_failure_cooldown_seconds'
>;

/** Router counters for metrics. */
export interface RouterStats {
  routed: number;
  unrouted: number;
  dropped: Record<DropReason, number>;
  handlerFailures: number;
  handlerTimeouts: number;
}

interface Lane {
  type: string;
  queue: BoundedQueue<Frame>;
  consuming: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

/**
 * Routes delivered business frames to handlers by `type`: one bounded queue
 * per type (created on demand, retired when idle), and at most
 * `handler_dispatch_max_inflight` invocations running at once across all
 * types (0 = one at a time). An invocation counts as running until its
 * handler's promise settles — for dispatches, until the answer is sent.
 */
export class Router {
  readonly #config: RouterConfig;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #handlers = new Map<string, RouteHandler>();
  readonly #lanes = new Map<string, Lane>();
  readonly #slots: Semaphore;
  readonly #cooldown: FailureCooldown;
  readonly #running = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #onUnrouted: ((frame: Frame) => void) | undefined;
  #idleWaiters: Array<() => void> = [];
  readonly stats: RouterStats = {
    routed: 0,
    unrouted: 0,
    dropped: { queue_overflow: 0, cooldown: 0, shutdown: 0 },
    handlerFailures: 0,
    handlerTimeouts: 0,
  };

  constructor(options: { config: RouterConfig; outbox: Outbox; logger?: Logger; onUnrouted?: (frame: Frame) => void }) {
    this.#config = options.config;
    this.#outbox = options.outbox;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'router' });
    this.#slots = new Semaphore(Math.max(1, options.config.handler_dispatch_max_inflight));
    this.#cooldown = new FailureCooldown(
      options.config.handler_dispatch_max_failures,
      options.config.handler_dispatch_failure_cooldown_seconds * 1000,
    );
    this.#onUnrouted = options.onUnrouted;
  }

  /** Routes `type` to `handler`, replacing any previous one. */
  register(type: string, handler: RouteHandler): void {
    this.#handlers.set(type, handler);
  }

  unregister(type: string): void {
    this.#handlers.delete(type);
  }

  /** Types with a handler (advertised as `payload_types`). */
  types(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /** Invocations running now. */
  get inflight(): number {
    return this.#slots.inUse;
  }

  /** Frames waiting in all per-type queues. */
  get queued(): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += lane.queue.size;
    return total;
  }

  /** Depth of each live per-type queue. */
  queueDepths(): Record<string, number> {
    return Object.fromEntries([...this.#lanes.values()].map((lane) => [lane.type, lane.queue.size]));
  }

  /**
   * Routes one frame. Resolves once the frame is queued — under the `block`
   * policy that waits for room, which holds back the session's app queue
   * and, through unsent acks, the scheduler.
   */
  async route(frame: Frame): Promise<void> {
    if (this.#shutdown.signal.aborted) {
      this.#drop(frame, this.#handlers.get(frame.type), 'shutdown');
      return;
    }
    const handler = this.#handlers.get(frame.type);
    if (!handler) {
      this.stats.unrouted++;
      this.#log.warn({ type: frame.type, id: frame.id }, 'no handler for frame type');
      this.#onUnrouted?.(frame);
      return;
    }
    if (handler.admit && !handler.admit(frame)) {
      this.#log.debug({ type: frame.type, id: frame.id }, 'frame settled at admission');
      return;
    }
    const lane = this.#lane(frame.type);
    this.#log.debug({ type: frame.type, id: frame.id, depth: lane.queue.size }, 'frame queued');
    const outcome = await lane.queue.push(frame);
    if (outcome.dropped) this.#drop(outcome.dropped, handler, 'queue_overflow');
    this.stats.routed++;
    this.#consume(lane);
  }

  #lane(type: string): Lane {
    let lane = this.#lanes.get(type);
    if (!lane) {
      lane = {
        type,
        queue: new BoundedQueue<Frame>({
          max: this.#config.handler_dispatch_queue_max,
          policy: this.#config.handler_dispatch_queue_overflow,
        }),
        consuming: false,
        idleTimer: undefined,
      };
      this.#lanes.set(type, lane);
    }
    if (lane.idleTimer) clearTimeout(lane.idleTimer);
    lane.idleTimer = undefined;
    return lane;
  }

  /**
   * Lets the handler of `frame.type` answer a frame that an earlier queue (the session's app
   * queue) dropped and already counted, so a command never vanishes unanswered.
   */
  refuseDropped(frame: Frame, reason: DropReason): void {
    this.#notifyDropped(frame, this.#handlers.get(frame.type), reason);
  }

  #drop(frame: Frame, handler: RouteHandler | undefined, reason: DropReason): void {
    this.stats.dropped[reason]++;
    this.#log.warn({ type: frame.type, id: frame.id, reason }, 'frame dropped before its handler');
    this.#notifyDropped(frame, handler, reason);
  }

  #notifyDropped(frame: Frame, handler: RouteHandler | undefined, reason: DropReason): void {
    try {
      handler?.onDropped?.(frame, reason);
    } catch (err) {
      this.#log.error({ err, type: frame.type }, 'onDropped failed');
    }
  }

  #consume(lane: Lane): void {
    if (lane.consuming) return;
    lane.consuming = true;
    void (async () => {
      try {
        for (;;) {
          await this.#slots.acquire();
          const frame = lane.queue.tryShift();
          if (!frame) {
            this.#slots.release();
            break;
          }
          const run = this.#invoke(frame).finally(() => {
            this.#slots.release();
            this.#running.delete(run);
            this.#notifyIdle();
          });
          this.#running.add(run);
        }
      } finally {
        lane.consuming = false;
        // A frame may have arrived between the last tryShift and now.
        if (lane.queue.size > 0) this.#consume(lane);
        else this.#scheduleRetire(lane);
      }
    })();
  }

  #scheduleRetire(lane: Lane): void {
    const idleMs = this.#config.handler_dispatch_queue_idle_seconds * 1000;
    if (idleMs <= 0 || lane.idleTimer) return;
    lane.idleTimer = setTimeout(() => {
      if (lane.queue.size === 0 && !lane.consuming && this.#lanes.get(lane.type) === lane) {
        this.#lanes.delete(lane.type);
        this.#log.debug({ type: lane.type }, 'idle dispatch queue retired');
      }
    }, idleMs);
    lane.idleTimer.unref();
  }

  async #invoke(frame: Frame): Promise<void> {
    const handler = this.#handlers.get(frame.type);
    if (!handler) {
      this.stats.unrouted++;
      this.#onUnrouted?.(frame);
      return;
    }
    if (this.#shutdown.signal.aborted) {
      this.#drop(frame, handler, 'shutdown');
      return;
    }
    if (this.#cooldown.remainingMs(frame.type) > 0) {
      this.#drop(frame, handler, 'cooldown');
      return;
    }
    const timeoutMs = handler.ownsTimeout ? 0 : this.#config.handler_dispatch_timeout_seconds * 1000;
    const signals = [this.#shutdown.signal];
    if (timeoutMs > 0) signals.push(AbortSignal.timeout(timeoutMs));
    const signal = AbortSignal.any(signals);
    this.#log.debug({ type: frame.type, id: frame.id, inflight: this.inflight }, 'invoking handler');
    try {
      const work = handler.handle(frame, { signal, outbox: this.#outbox });
      await (timeoutMs > 0 ? raceAbort(work, signal) : work);
      this.#cooldown.recordSuccess(frame.type);
    } catch (err) {
      const timedOut = AstraError.isInstance(err) && err.code === ErrorCode.TIMEOUT;
      if (timedOut) this.stats.handlerTimeouts++;
      this.stats.handlerFailures++;
      this.#log.error({ err, type: frame.type, id: frame.id }, timedOut ? 'handler timed out' : 'handler failed');
      if (this.#cooldown.recordFailure(frame.type)) {
        this.#log.warn({ type: frame.type, cooldown_ms: this.#cooldown.cooldownMs }, 'handler cooling down after consecutive failures');
      }
    }
  }

  #notifyIdle(): void {
    if (this.#running.size > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Resolves when no invocation is running. */
  async idle(): Promise<void> {
    if (this.#running.size === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops routing: queued frames are dropped with reason `shutdown` (their
   * handlers answer them) and running invocations see their signal abort.
   */
  abort(): void {
    this.#shutdown.abort(new AstraError(ErrorCode.RUNNER_CANCELLED, 'worker shutting down'));
    for (const lane of this.#lanes.values()) {
      if (lane.idleTimer) clearTimeout(lane.idleTimer);
      const handler = this.#handlers.get(lane.type);
      for (const frame of lane.queue.drainAll()) this.#drop(frame, handler, 'shutdown');
    }
  }
}

function raceAbort(work: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void =>
      reject(
        AstraError.isInstance(signal.reason)
          ? signal.reason
          : new AstraError(ErrorCode.TIMEOUT, 'handler exceeded handler_dispatch_timeout_seconds'),
      );
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
