import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { getSettings, loadSettings, type Settings } from '@astraflow/config';
import {
  AstraError,
  ErrorCode,
  FrameType,
  clampTimerMs,
  type Frame,
  type Logger,
  type RegisterPayload,
  type Transport,
} from '@astraflow/protocol';
import { createJournalStore, type OutboxStore } from '@astraflow/outbox';
import { createPackageManager, type PackageManager } from '@astraflow/registry';
import { createResourceRegistry, createRunner, sweepTaskDataDirs, type Runner } from '@astraflow/runner';
import { createWsTransport, readTlsFiles } from '@astraflow/transport-ws';
import { ExecDispatchHandler, type Answer, type DispatchStats, type RunningTask, type RunningTaskObserver } from './dispatch/exec-dispatch-handler.js';
import { NextBroker } from './dispatch/next-broker.js';
import { createPackageCommandHandlers } from './dispatch/package-commands.js';
import { DurableOutbox } from './durable-outbox.js';
import { Router, type RouteHandler } from './dispatch/router.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { createLogger } from './logger.js';
import { noopTaskMetrics, type TaskMetrics } from './metrics.js';
import { createLoadMonitor, type LoadMonitor } from './load/load-monitor.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './prometheus-metrics.js';
import { Session } from './session/session.js';
import type { SessionState } from './session/session-state.js';

/**
 * Frames that running tasks wait on: the session hands them over on arrival,
 * so a full queue of new work can never hold them up (see `expressTypes`).
 */
const EXPRESS_TYPES: ReadonlySet<string> = new Set([FrameType.EXEC_NEXT_RESPONSE]);

/** Options of {@link setup}. */
export interface SetupOptions {
  /** Fully loaded settings; default `getSettings()` (or `loadSettings(overrides)` when `overrides` is given). */
  settings?: Settings;
  /** Explicit values with the highest priority (README, "Running against a real scheduler": source 1). Ignored when `settings` is given. */
  overrides?: Parameters<typeof loadSettings>[0];
  /**
   * Replaces the transport named by `settings.transport` (third-party transports go here). Required
   * with `transport: dummy`: the worker has no dependency on the in-memory test double, so whoever
   * selects it passes `createDummyTransport()` from `@astraflow/transport-dummy` (the CLI loads that
   * package only then).
   */
  transport?: Transport;
  /** Defaults to a pino JSON logger at `settings.log_level`. */
  logger?: Logger;
  /** Extra frame handlers, e.g. for `ext.<vendor>.*` types; they may also replace the built-in ones. */
  handlers?: Readonly<Record<string, RouteHandler>>;
  /** Task metrics sink; defaults to the Prometheus registry of the health endpoint when it is on. */
  metrics?: TaskMetrics;
  /** Host name for the handshake (default: the OS's). */
  hostname?: string;
  /**
   * Store of the durable outbox; default a journal in `outbox_dir` (with
   * `outbox_enabled`). Inject one to test disk failures
   * (`createFaultInjectingStore` from `@astraflow/outbox`). The worker closes it.
   */
  outboxStore?: OutboxStore;
  /** Called with every running task whenever a handler starts or ends (e.g. for a watchdog). */
  onRunningTasksChange?: (tasks: readonly RunningTask[]) => void;
  /** Told of each task that starts and ends, O(1) per task (the CLI's watchdog uses this). */
  runningTasks?: RunningTaskObserver;
}

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

/**
 * A started worker: session, router, runner and package manager wired
 * together. Created by {@link setup}.
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
  readonly #dispatch: ExecDispatchHandler;
  readonly #next: NextBroker;
  #draining = false;
  #stopping: Promise<void> | undefined;
  #health: HealthServer | undefined;
  readonly #outboxStore: OutboxStore | undefined;

  /** @internal use {@link setup}. */
  constructor(parts: {
    settings: Settings;
    session: Session;
    router: Router;
    packages: PackageManager;
    runner: Runner;
    logger: Logger;
    dispatch: ExecDispatchHandler;
    next: NextBroker;
    metrics: PrometheusMetrics | undefined;
    load: LoadMonitor;
    outbox?: { durable: DurableOutbox; store: OutboxStore } | undefined;
  }) {
    super();
    this.settings = parts.settings;
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
    this.#next = parts.next;
    this.session.on('state', (state, previous) => {
      if (state === 'BACKOFF') {
        this.#next.failAll(new AstraError(ErrorCode.TRANSPORT_FAILURE, 'connection to the scheduler lost'));
      }
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
    return this.#draining;
  }

  /** Dispatches admitted and not yet answered. */
  get inflight(): number {
    return this.#dispatch.inflight;
  }

  /** Overload refusals and handler overruns (see `DispatchStats`). */
  get dispatchStats(): Readonly<DispatchStats> {
    return this.#dispatch.stats;
  }

  /** Routes frames of `type` to `handler` (third-party `ext.*` types). Re-registers so the scheduler learns the type. */
  registerHandler(type: string, handler: RouteHandler): void {
    this.router.register(type, handler);
    void this.session.reregister().catch(() => {});
  }

  /** Stops taking new dispatches (answered `E.RUNNER.CANCELLED`, reason `draining`, so the scheduler retries them elsewhere); running ones go on. */
  drain(): void {
    if (this.#draining) return;
    this.#draining = true;
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
    const graceMs = options.graceMs ?? this.settings.shutdown_grace_seconds * 1000;
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

  async #allAnswered(): Promise<void> {
    while (this.#dispatch.inflight > 0 || this.router.inflight > 0 || this.router.queued > 0) {
      await this.router.idle();
      await new Promise((resolve) => setTimeout(resolve, 10));
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

  /** @internal */
  async startParts(): Promise<void> {
    // Folders of tasks an earlier process never finished, and kept ones past their retention.
    const swept = await sweepTaskDataDirs(this.settings.data_dir, {
      retentionMs: this.settings.task_data_retention_seconds * 1000,
      logger: this.logger,
    });
    if (swept.removed > 0) this.logger.info({ ...swept, data_dir: this.settings.data_dir }, 'task data folders swept');
    if (this.settings.http_enabled) {
      this.#health = await startHealthServer({
        host: this.settings.http_host,
        port: this.settings.http_port,
        ready: () => this.session.state === 'READY' && !this.#draining && !this.load.overloaded,
        notReadyReason: () =>
          this.#draining ? 'draining' : this.load.overloaded ? 'overloaded' : this.session.state !== 'READY' ? 'not_connected' : undefined,
        metrics: this.metrics,
        logger: this.logger,
      });
      this.logger.info({ url: this.#health.url }, 'health endpoint listening');
    }
    this.load.start();
    await this.session.start();
    void this.#pump();
  }

  /** Address of the health endpoint, when on. */
  get healthUrl(): string | undefined {
    return this.#health?.url;
  }

  async #pump(): Promise<void> {
    for (;;) {
      const frame = await this.session.receive();
      try {
        await this.router.route(frame);
      } catch (err) {
        this.logger.error({ err, type: frame.type, id: frame.id }, 'routing failed');
      }
    }
  }
}

/**
 * Builds and starts a worker (the `worker.bootstrap.setup()` of the seed):
 * loads settings, loads installed packages, creates the runner, the session
 * over the transport `settings.transport` names (or the one given), wires
 * the default handlers, and starts connecting. Resolves once started — use
 * `worker.session.whenReady()` to wait for READY.
 *
 * @example
 * ```ts
 * const worker = await setup();
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.done;
 * ```
 */
export async function setup(options: SetupOptions = {}): Promise<Worker> {
  const settings = options.settings ?? (options.overrides ? loadSettings(options.overrides) : getSettings());
  if (settings.transport === 'dummy' && options.transport === undefined) {
    throw new AstraError(
      ErrorCode.CONFIG_INVALID,
      'transport dummy needs its transport passed in: setup({ transport: createDummyTransport() }) with @astraflow/transport-dummy',
      { details: { setting: 'transport' } },
    );
  }
  // The instance id is often adopted from the scheduler after start-up; log lines read it from the session.
  let identified: Session | undefined;
  const logger =
    options.logger ??
    createLogger({
      level: settings.log_level,
      secrets: [settings.auth_token],
      identity: {
        worker_name: settings.worker_name,
        tenant: settings.tenant,
        worker_instance_id: () => identified?.workerInstanceId ?? settings.worker_instance_id,
      },
    });
  const prometheus = settings.http_enabled ? createPrometheusMetrics({ knowsNodeType: (type) => hasNodeType(packages, type) }) : undefined;
  const metrics = options.metrics ?? prometheus ?? noopTaskMetrics;

  const packages = createPackageManager({
    packagesDir: settings.packages_dir,
    logger,
    runtimes: [...settings.runtime_names],
    requireSha256: settings.package_require_sha256,
    downloadTimeoutMs: settings.package_download_timeout_seconds * 1000,
    maxDownloadBytes: settings.package_max_download_bytes,
    maxExtractedBytes: settings.package_max_extracted_bytes,
    maxEntries: settings.package_max_entries,
    importTimeoutMs: settings.package_import_timeout_seconds * 1000,
    extractTimeoutMs: settings.package_extract_timeout_seconds * 1000,
  });
  await packages.loadInstalled();

  // Worker-local resources (the runner README, "Resources"): refs pinned to another worker_name never match here.
  const resources = createResourceRegistry({ workerName: settings.worker_name });
  const runner = createRunner({
    resources,
    resolver: packages,
    dataDir: settings.data_dir,
    defaultExecMode: settings.handler_exec_mode_default,
    workerName: settings.worker_name,
    logger,
    threads: {
      minThreads: settings.thread_pool_min_threads,
      maxThreads: settings.thread_pool_max_threads,
      idleTimeoutMs: settings.thread_pool_idle_timeout_seconds * 1000,
    },
  });
  // Threads start and load thread-mode handlers now, so the first task does not pay for it.
  const warmThreads = (): void => void runner.prewarm(packages.registry.list());
  warmThreads();
  const load = createLoadMonitor({
    intervalMs: settings.load_sample_interval_seconds * 1000,
    maxEventLoopDelayMs: settings.load_event_loop_delay_max_ms,
    maxHeapUsedPct: settings.load_heap_used_max_pct,
    recoverPct: settings.load_recover_pct,
    logger,
  });

  const transport = options.transport ?? (await createTransport(settings, logger));
  const outboxStore = settings.outbox_enabled
    ? (options.outboxStore ??
      (await createJournalStore({
        dir: settings.outbox_dir ?? join(dirname(settings.data_dir), 'outbox'),
        fsync: settings.outbox_fsync,
        maxBytes: settings.outbox_max_bytes,
        logger,
      })))
    : undefined;
  let durable: DurableOutbox | undefined;
  let router!: Router;
  let dispatch!: ExecDispatchHandler;
  const session = new Session({
    config: settings,
    transport,
    logger,
    ...(options.hostname ? { hostname: options.hostname } : {}),
    register: (): RegisterPayload => {
      const inventory = packages.inventory();
      const limits = settings.concurrency_per_node_limits;
      return {
        capabilities: {
          concurrency: {
            max_parallel: settings.concurrency_max_parallel,
            ...(limits && Object.keys(limits).length > 0 ? { per_node_limits: { ...limits } } : {}),
          },
          runtimes: [...settings.runtime_names],
          features: [...settings.feature_flags],
        },
        payload_types: [...(settings.payload_types ?? [...router.types(), ...EXPRESS_TYPES].sort())],
        packages: inventory.packages,
        manifests: inventory.manifests,
      };
    },
    heartbeatMetrics: () => ({
      inflight: dispatch.inflight,
      running_tasks: dispatch.running,
      feedback_dropped: dispatch.feedbackDropped,
      dispatch_queue_depth: router.queued,
      event_loop_delay_ms: Math.round(load.last.eventLoopDelayMs),
      heap_used_pct: Math.round(load.last.heapUsedPct * 10) / 10,
      overrunning_tasks: dispatch.stats.overrunning,
      resources_held: resources.counts().held,
      resources_in_use: resources.counts().inUse,
    }),
    healthy: () => !load.overloaded,
    onDropped: (frame: Frame) => dispatchDropped(frame),
    expressTypes: EXPRESS_TYPES,
    onExpress: (frame) => next.handleResponse(frame as Frame<'biz.exec.next.response'>),
    onInvalid: (frame, error) => {
      if (frame.type === FrameType.EXEC_DISPATCH) void dispatch.rejectInvalid(frame, error);
      else if (frame.type === FrameType.PKG_INSTALL || frame.type === FrameType.PKG_UNINSTALL) void pkg.rejectInvalid(frame, error);
    },
    ...(outboxStore ? { persistInbound: (frame: Frame) => durable?.recordInbound(frame) } : {}),
  });
  durable = outboxStore ? new DurableOutbox({ session, store: outboxStore, logger }) : undefined;
  const outbox = durable ?? session;
  identified = session;
  const next = new NextBroker(session, logger);
  router = new Router({ config: settings, logger, outbox });
  let worker!: Worker;
  dispatch = new ExecDispatchHandler({
    config: settings,
    outbox,
    runner,
    next,
    isDraining: () => worker.draining,
    ...(durable ? { refuses: (frame: Frame) => durable.refuses(frame) } : {}),
    metrics,
    logger,
    load,
    ...(options.onRunningTasksChange ? { onRunningTasksChange: options.onRunningTasksChange } : {}),
    ...(options.runningTasks ? { runningTasks: options.runningTasks } : {}),
  });
  // A frame the app queue dropped was already acked (and counted there): its handler answers it here.
  const dispatchDropped = (frame: Frame): void => router.refuseDropped(frame, 'queue_overflow');
  const pkg = createPackageCommandHandlers({
    packages,
    outbox,
    // The inventory changed: warm threads for any new thread-mode handlers too.
    reregister: () => {
      warmThreads();
      return session.reregister();
    },
    isDraining: () => worker.draining,
    uninstallEvent: settings.package_uninstall_event,
    logger,
  });
  router.register(FrameType.EXEC_DISPATCH, dispatch);
  router.register(FrameType.PKG_INSTALL, pkg.install);
  router.register(FrameType.PKG_UNINSTALL, pkg.uninstall);
  for (const [type, handler] of Object.entries(options.handlers ?? {})) router.register(type, handler);

  worker = new Worker({
    settings,
    session,
    router,
    packages,
    runner,
    logger,
    dispatch,
    next,
    metrics: prometheus,
    load,
    outbox: durable && outboxStore ? { durable, store: outboxStore } : undefined,
  });
  prometheus?.bind(worker);
  // Before the session starts: what the last run left goes out ahead of any new work.
  for (const replayed of (await durable?.replay()) ?? []) {
    if (replayed.dispatch && replayed.type !== FrameType.PKG_EVENT) {
      dispatch.restore(replayed.dispatch, { type: replayed.type, payload: replayed.payload } as Answer, replayed.frameId, replayed.acked);
    }
  }
  await worker.startParts();
  return worker;
}

/** Whether an installed package provides `nodeType` (node types from frames are otherwise unbounded). */
function hasNodeType(packages: PackageManager, nodeType: string): boolean {
  return packages.registry.list().some((handler) => handler.nodeType === nodeType);
}

/** The WebSocket transport `settings` describe; `transport: dummy` is handled by {@link setup}'s caller. */
async function createTransport(settings: Settings, logger: Logger): Promise<Transport> {
  const tls =
    settings.tls_ca_file || settings.tls_cert_file || settings.tls_key_file
      ? {
          ...(await readTlsFiles({
            ...(settings.tls_ca_file ? { caFile: settings.tls_ca_file } : {}),
            ...(settings.tls_cert_file ? { certFile: settings.tls_cert_file } : {}),
            ...(settings.tls_key_file ? { keyFile: settings.tls_key_file } : {}),
          })),
          rejectUnauthorized: settings.tls_reject_unauthorized,
        }
      : { rejectUnauthorized: settings.tls_reject_unauthorized };
  // For ws:// the transport warns about any tls options; only configured TLS files deserve that warning.
  const useTls =
    settings.scheduler_ws_url.startsWith('wss:') || Boolean(settings.tls_ca_file || settings.tls_cert_file || settings.tls_key_file);
  return createWsTransport({
    url: settings.scheduler_ws_url,
    ...(settings.auth_token ? { token: settings.auth_token } : {}),
    ...(useTls ? { tls } : {}),
    maxFrameBytes: settings.max_frame_bytes,
    pingIntervalMs: settings.ws_ping_interval_seconds * 1000,
    logger,
  });
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

