import { getSettings, loadSettings, type Settings } from '@astraflow/config';
import {
  AstraError,
  ErrorCode,
  FrameType,
  type Frame,
  type Logger,
  type RegisterPayload,
  type Transport,
} from '@astraflow/protocol';
import { createJournalStore, type OutboxStore } from '@astraflow/outbox';
import { createPackageManager, type PackageManager } from '@astraflow/registry';
import { createResourceRegistry, createRunner } from '@astraflow/runner';
import { createWsTransport, readTlsFiles } from '@astraflow/transport-ws';
import { compileWorkerOptions, type WorkerOptions } from './compile-options.js';
import {
  ExecDispatchHandler,
  type Answer,
  type RunningTask,
  type RunningTaskObserver,
} from './dispatch/exec-dispatch-handler.js';
import { NextBroker } from './dispatch/next-broker.js';
import { createPackageCommandHandlers } from './dispatch/package-commands.js';
import { RouteTable } from './dispatch/route-table.js';
import { Router, type RouteHandler } from './dispatch/router.js';
import { DrainSwitch } from './drain-switch.js';
import { DurableOutbox } from './durable-outbox.js';
import { createLoadMonitor } from './load/load-monitor.js';
import { createLogger } from './logger.js';
import { noopTaskMetrics, type TaskMetrics } from './metrics.js';
import { createPrometheusMetrics } from './prometheus-metrics.js';
import { Session } from './session/session.js';
import { Worker } from './worker.js';

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

/**
 * Builds and starts a worker (the `worker.bootstrap.setup()` of the seed):
 * loads settings and compiles them once ({@link compileWorkerOptions}),
 * loads installed packages, creates the runner, the session over the
 * transport `settings.transport` names (or the one given), wires the
 * default handlers, and starts connecting. Resolves once started — use
 * `worker.session.whenReady()` to wait for READY.
 *
 * Wiring runs one way, bottom up: each part is built from parts that
 * already exist; the session learns of the layer above only through
 * `session.attach()` (deliveries, heartbeat figures), and the route table,
 * built first, tells the registration which types the worker takes.
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
  const compiled = compileWorkerOptions(settings);
  // Log lines name the worker instance, an id the session often adopts from the scheduler after
  // start-up. The logger exists before the session (everything logs), so it reads the id through
  // this view, which points at the session once it exists: the one link that runs upward.
  const instanceView: { session?: Session } = {};
  const logger =
    options.logger ??
    createLogger({
      level: settings.log_level,
      secrets: [settings.auth_token],
      identity: {
        worker_name: settings.worker_name,
        tenant: settings.tenant,
        worker_instance_id: () => instanceView.session?.workerInstanceId ?? settings.worker_instance_id,
      },
    });

  const packages = createPackageManager({ ...compiled.packages, logger });
  await packages.loadInstalled();
  // Node types from frames are otherwise unbounded: only installed ones get a label of their own.
  const prometheus = compiled.health
    ? createPrometheusMetrics({ knowsNodeType: (type) => packages.registry.list().some((handler) => handler.nodeType === type) })
    : undefined;
  const metrics = options.metrics ?? prometheus ?? noopTaskMetrics;
  // Worker-local resources (the runner README, "Resources"): refs pinned to another worker_name never match here.
  const resources = createResourceRegistry({ workerName: compiled.runner.workerName });
  const runner = createRunner({ ...compiled.runner, resources, resolver: packages, logger });
  // Threads start and load thread-mode handlers now, so the first task does not pay for it.
  const warmThreads = (): void => void runner.prewarm(packages.registry.list());
  warmThreads();
  const load = createLoadMonitor({ ...compiled.load, logger });
  const draining = new DrainSwitch();
  const table = new RouteTable();

  const transport = options.transport ?? (await createTransport(compiled.transport, logger));
  const outboxStore = compiled.outbox
    ? (options.outboxStore ?? (await createJournalStore({ ...compiled.outbox, logger })))
    : undefined;
  const session = new Session({
    config: compiled.session,
    transport,
    logger,
    ...(options.hostname ? { hostname: options.hostname } : {}),
    register: () => registerPayload(compiled.registration, packages, table),
  });
  instanceView.session = session;
  const durable = outboxStore ? new DurableOutbox({ session, store: outboxStore, logger }) : undefined;
  const outbox = durable ?? session;
  const next = new NextBroker(session, logger);
  const router = new Router({ config: compiled.router, logger, outbox, table });
  const dispatch = new ExecDispatchHandler({
    config: compiled.dispatch,
    outbox,
    runner,
    next,
    isDraining: () => draining.on,
    ...(durable ? { refuses: (frame: Frame) => durable.refuses(frame) } : {}),
    metrics,
    logger,
    load,
    ...(options.onRunningTasksChange ? { onRunningTasksChange: options.onRunningTasksChange } : {}),
    ...(options.runningTasks ? { runningTasks: options.runningTasks } : {}),
  });
  const pkg = createPackageCommandHandlers({
    packages,
    outbox,
    // The inventory changed: warm threads for any new thread-mode handlers too.
    reregister: () => {
      warmThreads();
      return session.reregister();
    },
    isDraining: () => draining.on,
    uninstallEvent: compiled.packages.uninstallEvent,
    logger,
  });
  table.register(FrameType.EXEC_DISPATCH, dispatch);
  table.register(FrameType.PKG_INSTALL, pkg.install);
  table.register(FrameType.PKG_UNINSTALL, pkg.uninstall);
  // Answers running tasks wait on: taken on arrival, so a full queue of new work never holds them up.
  table.express(FrameType.EXEC_NEXT_RESPONSE, (frame) => next.handleResponse(frame as Frame<'biz.exec.next.response'>));
  for (const [type, handler] of Object.entries(options.handlers ?? {})) table.register(type, handler);

  session.attach({
    arrive: (frame) => router.arrive(frame),
    deliver: (delivery) => router.deliver(delivery),
    healthy: () => !load.overloaded,
    ...(durable ? { persistInbound: (frame: Frame) => durable.recordInbound(frame) } : {}),
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
  });
  const worker = new Worker({
    settings,
    options: compiled,
    session,
    router,
    packages,
    runner,
    logger,
    dispatch,
    next,
    metrics: prometheus,
    load,
    draining,
    outbox: durable && outboxStore ? { durable, store: outboxStore } : undefined,
  });
  prometheus?.bind(worker);
  // Before the session starts: what the last run left goes out ahead of any new work.
  for (const replayed of (await durable?.replay()) ?? []) {
    if (replayed.dispatch && replayed.type !== FrameType.PKG_EVENT) {
      dispatch.restore(
        replayed.dispatch,
        { type: replayed.type, payload: replayed.payload } as Answer,
        replayed.frameId,
        replayed.acked,
      );
    }
  }
  await worker.startParts();
  return worker;
}

/** The `control.register` payload: capabilities, the types the route table takes, the package inventory. */
function registerPayload(
  registration: WorkerOptions['registration'],
  packages: PackageManager,
  table: RouteTable,
): RegisterPayload {
  const inventory = packages.inventory();
  return {
    capabilities: {
      concurrency: {
        max_parallel: registration.maxParallel,
        ...(registration.perNodeLimits ? { per_node_limits: { ...registration.perNodeLimits } } : {}),
      },
      runtimes: [...registration.runtimes],
      features: [...registration.features],
    },
    payload_types: [...(registration.payloadTypes ?? table.types())],
    packages: inventory.packages,
    manifests: inventory.manifests,
  };
}

/** The WebSocket transport the compiled options describe; `transport: dummy` is handled by {@link setup}'s caller. */
async function createTransport(options: WorkerOptions['transport'], logger: Logger): Promise<Transport> {
  const { tlsFiles, rejectUnauthorized } = options;
  const hasFiles = Object.keys(tlsFiles).length > 0;
  const tls = hasFiles ? { ...(await readTlsFiles(tlsFiles)), rejectUnauthorized } : { rejectUnauthorized };
  // For ws:// the transport warns about any tls options; only configured TLS files deserve that warning.
  const useTls = options.url.startsWith('wss:') || hasFiles;
  return createWsTransport({
    url: options.url,
    ...(options.token ? { token: options.token } : {}),
    ...(useTls ? { tls } : {}),
    maxFrameBytes: options.maxFrameBytes,
    pingIntervalMs: options.pingIntervalMs,
    logger,
  });
}
