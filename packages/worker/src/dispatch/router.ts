import { setMaxListeners } from 'node:events';
import {
  AstraError,
  ErrorCode,
  MAX_TIMER_MS,
  createNoopLogger,
  type Frame,
  type Logger,
  type OverflowPolicy,
} from '@astraflow/protocol';
import type { Outbox } from '../outbox.js';
import type { Delivery, DeliverySink } from '../session/session-types.js';
import { BoundedQueue } from '../queue/bounded-queue.js';
import { FailureCooldown, type CooldownConfig } from './failure-cooldown.js';
import { raceAbort } from './race-abort.js';
import type { DropReason, RouteHandler } from './route-handler.js';
import { RouteTable } from './route-table.js';
import { Semaphore } from './semaphore.js';

export type { DropReason, RouteContext, RouteHandler } from './route-handler.js';

/** The router's settings, compiled once by `compileWorkerOptions` (milliseconds, clamped). */
export interface RouterConfig {
  /** `handler_dispatch_max_inflight`: invocations running at once across all types (0 = one at a time). */
  maxInflight: number;
  /** Each type's queue: `handler_dispatch_queue_max`, `_overflow`, `_idle_seconds` (0 = never retired). */
  queue: { max: number; policy: OverflowPolicy; idleMs: number };
  /** `handler_dispatch_timeout_seconds`, for handlers that do not own their timeout. */
  taskTimeoutMs: number;
  /** `handler_dispatch_max_failures` in a row start a cooldown of `handler_dispatch_failure_cooldown_seconds`. */
  cooldown: CooldownConfig;
}

/** Router counters for metrics. */
export interface RouterStats {
  routed: number;
  unrouted: number;
  dropped: Record<DropReason, number>;
  handlerFailures: number;
  handlerTimeouts: number;
}

interface Queued {
  frame: Frame;
  /** `performance.now()` when it was queued. */
  at: number;
}

interface Lane {
  type: string;
  queue: BoundedQueue<Queued>;
  consuming: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Set while the consumer waits for a frame to become startable. */
  wake: (() => void) | undefined;
}

/**
 * Routes delivered business frames to handlers by `type`: one bounded queue
 * per type (created on demand, retired when idle), and at most
 * `handler_dispatch_max_inflight` invocations running at once across all
 * types (0 = one at a time). An invocation counts as running until its
 * handler's promise settles — for dispatches, until the answer is sent and
 * the handler's code has stopped. A handler's {@link RouteHandler.claim}
 * lets frames that cannot start yet wait without holding a slot.
 */
export class Router implements DeliverySink {
  readonly #config: RouterConfig;
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #table: RouteTable;
  readonly #lanes = new Map<string, Lane>();
  readonly #slots: Semaphore;
  readonly #cooldown: FailureCooldown;
  readonly #running = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #onUnrouted: ((frame: Frame) => void) | undefined;
  #idleWaiters: Array<() => void> = [];
  #drainedWaiters: Array<() => void> = [];
  readonly stats: RouterStats = {
    routed: 0,
    unrouted: 0,
    dropped: { queue_overflow: 0, cooldown: 0, shutdown: 0, overloaded: 0 },
    handlerFailures: 0,
    handlerTimeouts: 0,
  };

  constructor(options: {
    config: RouterConfig;
    outbox: Outbox;
    logger?: Logger;
    onUnrouted?: (frame: Frame) => void;
    /** The handler table to route by (default a fresh one); shared with whoever advertises its types. */
    table?: RouteTable;
  }) {
    this.#config = options.config;
    this.#table = options.table ?? new RouteTable();
    this.#outbox = options.outbox;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'router' });
    this.#slots = new Semaphore(Math.max(1, options.config.maxInflight));
    // Every running task listens on the shutdown signal (and stops listening when it ends): not a leak.
    setMaxListeners(0, this.#shutdown.signal);
    this.#cooldown = new FailureCooldown(options.config.cooldown.maxFailures, options.config.cooldown.ms);
    this.#onUnrouted = options.onUnrouted;
  }

  /** Routes `type` to `handler`, replacing any previous one. */
  register(type: string, handler: RouteHandler): void {
    this.#table.register(type, handler);
  }

  unregister(type: string): void {
    this.#table.unregister(type);
  }

  /** Handles frames of `type` on arrival (see {@link RouteTable.express}). */
  express(type: string, handler: (frame: Frame) => void): void {
    this.#table.express(type, handler);
  }

  /** Types with a handler, express ones included (advertised as `payload_types`). */
  types(): string[] {
    return this.#table.types();
  }

  /** Session side: takes express frames on arrival (see {@link Router.express}). */
  arrive(frame: Frame): boolean {
    const express = this.#table.expressFor(frame.type);
    if (!express) return false;
    express(frame);
    return true;
  }

  /**
   * Session side: a delivery. A frame is routed (resolving once queued, see
   * {@link Router.route}); an invalid one goes to its handler's
   * `rejectInvalid`; one the session's app queue dropped, already acked and
   * counted there, to its handler's `onDropped` (`queue_overflow`), so a
   * command never vanishes unanswered.
   */
  async deliver(delivery: Delivery): Promise<void> {
    const { frame } = delivery;
    if (delivery.kind === 'frame') return this.route(frame);
    if (delivery.kind === 'dropped') return this.#notifyDropped(frame, this.#table.get(frame.type), 'queue_overflow');
    try {
      await this.#table.get(frame.type)?.rejectInvalid?.(frame, delivery.error);
    } catch (err) {
      this.#log.error({ err, type: frame.type, id: frame.id }, 'rejecting an invalid frame failed');
    }
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
    // Taken on arrival already, unless it came while the session was not yet open.
    if (this.arrive(frame)) return;
    if (this.#shutdown.signal.aborted) {
      this.#drop(frame, this.#table.get(frame.type), 'shutdown');
      return;
    }
    const handler = this.#table.get(frame.type);
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
    const outcome = await lane.queue.push({ frame, at: performance.now() });
    if (outcome.dropped) this.#drop(outcome.dropped.frame, handler, 'queue_overflow');
    this.stats.routed++;
    this.#armExpiry(lane);
    this.#consume(lane);
  }

  #lane(type: string): Lane {
    let lane = this.#lanes.get(type);
    if (!lane) {
      lane = {
        type,
        queue: new BoundedQueue<Queued>({ max: this.#config.queue.max, policy: this.#config.queue.policy }),
        consuming: false,
        idleTimer: undefined,
        expiryTimer: undefined,
        wake: undefined,
      };
      this.#lanes.set(type, lane);
    }
    if (lane.idleTimer) clearTimeout(lane.idleTimer);
    lane.idleTimer = undefined;
    return lane;
  }

  #drop(frame: Frame, handler: RouteHandler | undefined, reason: DropReason): void {
    this.stats.dropped[reason]++;
    this.#log.warn({ type: frame.type, id: frame.id, reason }, 'frame dropped before its handler');
    this.#notifyDropped(frame, handler, reason);
    queueMicrotask(() => this.#notifyIdle());
  }

  #notifyDropped(frame: Frame, handler: RouteHandler | undefined, reason: DropReason): void {
    try {
      handler?.onDropped?.(frame, reason);
    } catch (err) {
      this.#log.error({ err, type: frame.type }, 'onDropped failed');
    }
  }

  #consume(lane: Lane): void {
    if (lane.consuming) {
      this.#wake(lane);
      return;
    }
    lane.consuming = true;
    void (async () => {
      try {
        for (;;) {
          if (lane.queue.size === 0) break;
          await this.#slots.acquire();
          const picked = this.#pick(lane);
          if (!picked) {
            this.#slots.release();
            if (lane.queue.size === 0) break;
            // Everything queued waits for its own limit: sleep until a run of this lane ends or a frame arrives.
            await new Promise<void>((resolve) => (lane.wake = resolve));
            continue;
          }
          const { item, release } = picked;
          const run = this.#invoke(item.frame, performance.now() - item.at).finally(() => {
            try {
              release?.();
            } catch (err) {
              this.#log.error({ err, type: lane.type }, 'releasing a claim failed');
            }
            this.#slots.release();
            this.#running.delete(run);
            this.#wake(lane);
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

  #wake(lane: Lane): void {
    const wake = lane.wake;
    lane.wake = undefined;
    wake?.();
  }

  /** Takes the first queued frame that may start now, after dropping the ones that waited too long. */
  #pick(lane: Lane): { item: Queued; release: (() => void) | undefined } | undefined {
    this.#expire(lane);
    const handler = this.#table.get(lane.type);
    let release: (() => void) | undefined;
    const item = lane.queue.takeFirst((queued) => {
      if (!handler?.claim) return true;
      try {
        release = handler.claim(queued.frame);
      } catch (err) {
        // A failing claim must not wedge the lane: run the frame and let its handler answer it.
        this.#log.error({ err, type: lane.type, id: queued.frame.id }, 'claim failed');
        release = undefined;
        return true;
      }
      return release !== undefined;
    });
    return item ? { item, release } : undefined;
  }

  #maxWaitMs(lane: Lane): number {
    const ms = this.#table.get(lane.type)?.maxQueueWaitMs ?? 0;
    return Number.isFinite(ms) && ms > 0 ? ms : 0;
  }

  /** Drops, with reason `overloaded`, frames queued longer than the handler allows (they sit at the head: oldest first). */
  #expire(lane: Lane): void {
    const maxMs = this.#maxWaitMs(lane);
    if (maxMs === 0) return;
    const now = performance.now();
    let dropped = false;
    for (let head = lane.queue.peek(); head && now - head.at >= maxMs; head = lane.queue.peek()) {
      lane.queue.tryShift();
      dropped = true;
      this.#drop(head.frame, this.#table.get(lane.type), 'overloaded');
    }
    // A consumer asleep on frames that are now gone must see the empty queue and let the lane retire.
    if (dropped) this.#wake(lane);
  }

  #armExpiry(lane: Lane): void {
    const maxMs = this.#maxWaitMs(lane);
    const head = lane.queue.peek();
    if (maxMs === 0 || !head || lane.expiryTimer) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(1, head.at + maxMs - performance.now()));
    lane.expiryTimer = setTimeout(() => {
      lane.expiryTimer = undefined;
      this.#expire(lane);
      this.#armExpiry(lane);
    }, delay);
    lane.expiryTimer.unref();
  }

  #scheduleRetire(lane: Lane): void {
    const idleMs = this.#config.queue.idleMs;
    if (idleMs <= 0 || lane.idleTimer) return;
    lane.idleTimer = setTimeout(() => {
      if (lane.queue.size === 0 && !lane.consuming && this.#lanes.get(lane.type) === lane) {
        this.#lanes.delete(lane.type);
        this.#log.debug({ type: lane.type }, 'idle dispatch queue retired');
      }
    }, idleMs);
    lane.idleTimer.unref();
  }

  async #invoke(frame: Frame, queuedMs: number): Promise<void> {
    const handler = this.#table.get(frame.type);
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
    const timeoutMs = handler.ownsTimeout ? 0 : this.#config.taskTimeoutMs;
    const shutdown = this.#shutdown.signal;
    // Without a router timeout (dispatches own theirs) the shutdown signal is the whole story: handed
    // over as is, with no controller per frame. With one, a controller per invocation, unlinked in
    // `finally` (AbortSignal.any() would leave a WeakRef behind on the shutdown signal for every frame).
    const invocation = timeoutMs > 0 ? new AbortController() : undefined;
    const onShutdown = (): void => invocation?.abort(shutdown.reason);
    if (invocation) shutdown.addEventListener('abort', onShutdown, { once: true });
    const timer =
      invocation !== undefined
        ? setTimeout(
            () => invocation.abort(new AstraError(ErrorCode.TIMEOUT, 'handler exceeded handler_dispatch_timeout_seconds')),
            timeoutMs,
          )
        : undefined;
    const signal = invocation?.signal ?? shutdown;
    this.#log.debug({ type: frame.type, id: frame.id, inflight: this.inflight }, 'invoking handler');
    try {
      const work = handler.handle(frame, { signal, outbox: this.#outbox, queuedMs });
      await (timeoutMs > 0 ? raceAbort(work, signal) : work);
      this.#cooldown.recordSuccess(frame.type);
    } catch (err) {
      const timedOut = AstraError.isInstance(err) && err.code === ErrorCode.TIMEOUT;
      if (timedOut) this.stats.handlerTimeouts++;
      this.stats.handlerFailures++;
      this.#log.error({ err, type: frame.type, id: frame.id }, timedOut ? 'handler timed out' : 'handler failed');
      if (this.#cooldown.recordFailure(frame.type)) {
        this.#log.warn(
          { type: frame.type, cooldown_ms: this.#cooldown.cooldownMs },
          'handler cooling down after consecutive failures',
        );
      }
    } finally {
      if (timer) clearTimeout(timer);
      if (invocation) shutdown.removeEventListener('abort', onShutdown);
    }
  }

  #notifyIdle(): void {
    if (this.#running.size > 0) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
    if (this.queued === 0) for (const wake of this.#drainedWaiters.splice(0)) wake();
  }

  /** Resolves once nothing runs and nothing is queued (checked whenever an invocation ends or a frame is dropped). */
  async drained(): Promise<void> {
    if (this.#running.size === 0 && this.queued === 0) return;
    await new Promise<void>((resolve) => this.#drainedWaiters.push(resolve));
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
      if (lane.expiryTimer) clearTimeout(lane.expiryTimer);
      lane.expiryTimer = undefined;
      const handler = this.#table.get(lane.type);
      for (const { frame } of lane.queue.drainAll()) this.#drop(frame, handler, 'shutdown');
      this.#wake(lane);
    }
  }
}
