import { EventEmitter } from 'node:events';
import type { Settings } from '@astraflow/config';
import { AstraError, ErrorCode, clampTimerMs, type Logger } from '@astraflow/protocol';
import type { OutboxStore } from '@astraflow/outbox';
import type { PackageManager } from '@astraflow/registry';
import { sweepTaskDataDirs, type Runner } from '@astraflow/runner';
import type { WorkerOptions } from './compile-options.js';
import type { ExecDispatchHandler, DispatchStats } from './dispatch/exec-dispatch-handler.js';
import type { NextBroker } from './dispatch/next-broker.js';
import type { Router, RouteHandler } from './dispatch/router.js';
import type { DrainSwitch } from './drain-switch.js';
import type { DurableOutbox } from './durable-outbox.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import type { LoadMonitor } from './load/load-monitor.js';
import type { PrometheusMetrics } from './prometheus-metrics.js';
import type { Session } from './session/session.js';
import type { SessionState } from './session/session-state.js';

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /** How long in-flight tasks may run on before they are cancelled; default `shutdown_grace_seconds`. */
  graceMs?: number;
  /** How long to wait for the scheduler to ack the last answers, after the grace period; default 5000. */
  flushMs?: number;
}

/** Events of {@link Worker}. */
export interface WorkerEvents {
  state: [state: SessionState, previous: SessionState];
  ready: [info: { resumed: boolean; sessionId: string }];
  fatal: [error: AstraError];
  stopped: [];
}

/** The parts {@link Worker} runs, as `setup()` wired them. */
export interface WorkerParts {
  settings: Settings;
  options: WorkerOptions;
  session: Session;
  router: Router;
  packages: PackageManager;
  runner: Runner;
  logger: Logger;
  dispatch: ExecDispatchHandler;
  next: NextBroker;
  metrics: PrometheusMetrics | undefined;
  load: LoadMonitor;
  draining: DrainSwitch;
  outbox?: { durable: DurableOutbox; store: OutboxStore } | undefined;
}

/**
 * A started worker: session, router, runner and package manager wired
 * together. Created by `setup()` (see `setup.ts`), which owns the wiring;
 * this class owns the life cycle: start, drain, stop.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  readonly settings: Settings;
  readonly session: Session;
  readonly router: Router;
  readonly packages: PackageManager;
  readonly runner: Runner;
  readonly logger: Logger;
  readonly metrics: PrometheusMetrics | undefined;
  /** The worker's own load (event-loop delay, heap use) and whether it refuses work because of it. */
  readonly load: LoadMonitor;
  /** The durable outbox, when `outbox_enabled`. */
  readonly outbox: DurableOutbox | undefined;
  /** Settles when the worker has stopped: resolves after {@link stop}, rejects with a fatal session error. */
  readonly done: Promise<void>;
  readonly #options: WorkerOptions;
  readonly #dispatch: ExecDispatchHandler;
  readonly #draining: DrainSwitch;
  #stopping: Promise<void> | undefined;
  #health: HealthServer | undefined;
  readonly #outboxStore: OutboxStore | undefined;

  /** @internal use `setup()`. */
  constructor(parts: WorkerParts) {
    super();
    this.settings = parts.settings;
    this.#options = parts.options;
    this.session = parts.session;
    this.router = parts.router;
    this.packages = parts.packages;
    this.runner = parts.runner;
    this.logger = parts.logger;
    this.metrics = parts.metrics;
    this.load = parts.load;
    this.outbox = parts.outbox?.durable;
    this.#outboxStore = parts.outbox?.store;
    this.#dispatch = parts.dispatch;
    this.#draining = parts.draining;
    const next = parts.next;
    this.session.on('state', (state, previous) => {
      if (state === 'BACKOFF') next.failAll(new AstraError(ErrorCode.TRANSPORT_FAILURE, 'connection to the scheduler lost'));
      this.emit('state', state, previous);
    });
    this.session.on('ready', (info) => this.emit('ready', info));
    this.session.on('drain', (payload) => {
      const graceMs = typeof payload.deadline_ms === 'number' ? payload.deadline_ms : undefined;
      void this.stop(graceMs === undefined ? {} : { graceMs });
    });
    this.session.on('fatal', (err) => {
      this.emit('fatal', err);
      void this.#shutdownParts();
    });
    this.done = this.session.done.then(() => {
      if (this.#stopping) return this.#stopping;
    });
    this.done.catch(() => {});
  }

  /** Session state. */
  get state(): SessionState {
    return this.session.state;
  }

  /** True once the worker takes no new dispatches. */
  get draining(): boolean {
    return this.#draining.on;
  }

  /** Dispatches admitted and not yet answered: the worker's one in-flight count (heartbeat, metrics, stop). */
  get inflight(): number {
    return this.#dispatch.inflight;
  }

  /** Overload refusals and handler overruns (see `DispatchStats`). */
  get dispatchStats(): Readonly<DispatchStats> {
    return this.#dispatch.stats;
  }

  /** Address of the health endpoint, when on. */
  get healthUrl(): string | undefined {
    return this.#health?.url;
  }

  /** Routes frames of `type` to `handler` (third-party `ext.*` types). Re-registers so the scheduler learns the type. */
  registerHandler(type: string, handler: RouteHandler): void {
    this.router.register(type, handler);
    void this.session.reregister().catch(() => {});
  }

  /** Stops taking new dispatches (answered `E.RUNNER.CANCELLED`, reason `draining`, so the scheduler retries them elsewhere); running ones go on. */
  drain(): void {
    if (!this.#draining.turnOn()) return;
    this.session.drain();
    this.logger.info({ inflight: this.inflight }, 'draining: no new tasks');
  }

  /**
   * Graceful stop: drain, let in-flight tasks finish for up to `graceMs`,
   * cancel what is still running (answered `E.RUNNER.CANCELLED`), wait for
   * the scheduler to ack the answers, then close. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options);
    return this.#stopping;
  }

  async #stop(options: StopOptions): Promise<void> {
    const graceMs = options.graceMs ?? this.#options.shutdownGraceMs;
    const flushMs = options.flushMs ?? 5000;
    this.drain();
    const finished = await withTimeout(this.#allAnswered(), graceMs);
    if (!finished) {
      this.logger.warn({ inflight: this.inflight, grace_ms: graceMs }, 'grace period over: cancelling running tasks');
      this.router.abort();
      await withTimeout(this.#allAnswered(), flushMs);
    }
    const flushed = await this.session.flush(flushMs);
    if (!flushed) this.logger.warn('some answers were not acked by the scheduler before shutdown');
    await this.session.close();
    await this.#shutdownParts();
    this.logger.info('worker stopped');
    this.emit('stopped');
  }

  /**
   * Resolves once every admitted dispatch is answered and the router holds
   * nothing. Each wait ends on an event; the loop checks again because one
   * side can refill the other (an answer frees a slot for a queued frame).
   */
  async #allAnswered(): Promise<void> {
    while (this.#dispatch.inflight > 0 || this.router.inflight > 0 || this.router.queued > 0) {
      await this.router.drained();
      await this.#dispatch.idle();
    }
  }

  async #shutdownParts(): Promise<void> {
    this.load.stop();
    this.router.abort();
    await this.runner.close().catch(() => {});
    await this.#health?.close().catch(() => {});
    // What is still in it (answers the scheduler did not ack) is sent again on the next start.
    await this.#outboxStore?.close().catch(() => {});
  }

  /** @internal Sweeps old task folders, starts the health endpoint, the load monitor and the session, then pumps deliveries. */
  async startParts(): Promise<void> {
    const { taskData, health } = this.#options;
    // Folders of tasks an earlier process never finished, and kept ones past their retention.
    const swept = await sweepTaskDataDirs(taskData.dataDir, { retentionMs: taskData.retentionMs, logger: this.logger });
    if (swept.removed > 0) this.logger.info({ ...swept, data_dir: taskData.dataDir }, 'task data folders swept');
    if (health) {
      this.#health = await startHealthServer({
        host: health.host,
        port: health.port,
        ready: () => this.session.state === 'READY' && !this.draining && !this.load.overloaded,
        notReadyReason: () =>
          this.draining
            ? 'draining'
            : this.load.overloaded
              ? 'overloaded'
              : this.session.state !== 'READY'
                ? 'not_connected'
                : undefined,
        metrics: this.metrics,
        logger: this.logger,
      });
      this.logger.info({ url: this.#health.url }, 'health endpoint listening');
    }
    this.load.start();
    await this.session.start();
    void this.#pump();
  }

  async #pump(): Promise<void> {
    for (;;) {
      const frame = await this.session.receive();
      try {
        await this.router.deliver({ kind: 'frame', frame });
      } catch (err) {
        this.logger.error({ err, type: frame.type, id: frame.id }, 'routing failed');
      }
    }
  }
}

function withTimeout(work: Promise<void>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), clampTimerMs(ms));
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}
