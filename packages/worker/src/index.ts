/**
 * The AstraFlow worker: the control-plane session, the dispatch pipeline,
 * and {@link setup}, which assembles them with a transport, the package
 * manager and the runner.
 *
 * @example
 * ```ts
 * import { setup } from '@astraflow/worker';
 *
 * const worker = await setup(); // settings from file / ASTRA_WORKER_* / .env
 * await worker.session.whenReady();
 * process.once('SIGTERM', () => void worker.stop({ graceMs: 30_000 }));
 * await worker.done;
 * ```
 *
 * @packageDocumentation
 */
export { setup, Worker, type SetupOptions, type StopOptions, type WorkerEvents } from './worker.js';
export {
  Session,
  type OutboundReceipt,
  type SendOptions,
  type SessionEvents,
  type SessionOptions,
  type SessionStats,
} from './session/session.js';
export type { SessionConfig } from './session/session-config.js';
export { isOpenState, type SessionState } from './session/session-state.js';
export { reconnectDelayMs, retransmitDelayMs, heartbeatDelayMs } from './session/backoff.js';
export { InstanceIdStore } from './session/instance-id-store.js';
export { HostMetricsSampler, type HostMetrics } from './session/host-metrics.js';
export { BoundedQueue, type BoundedQueueOptions, type OverflowPolicy, type PushOutcome } from './queue/bounded-queue.js';
export {
  Router,
  type DropReason,
  type RouteContext,
  type RouteHandler,
  type RouterConfig,
  type RouterStats,
} from './dispatch/router.js';
export {
  ExecDispatchHandler,
  type DispatchStats,
  type ExecDispatchConfig,
  type ExecDispatchHandlerOptions,
  type LoadState,
} from './dispatch/exec-dispatch-handler.js';
export { refusalDetails, type Refusal } from './dispatch/refusal.js';
export {
  createLoadMonitor,
  createLoadSampler,
  type LoadMonitor,
  type LoadMonitorOptions,
  type LoadSample,
  type LoadSampler,
} from './load/load-monitor.js';
export { NextBroker, type NextCall } from './dispatch/next-broker.js';
export { createPackageCommandHandlers, type PackageCommandOptions } from './dispatch/package-commands.js';
export { ConcurrencyGuard } from './dispatch/concurrency-guard.js';
export { FailureCooldown } from './dispatch/failure-cooldown.js';
export { Semaphore } from './dispatch/semaphore.js';
export type { Outbox } from './outbox.js';
export { noopTaskMetrics, type TaskMetrics } from './metrics.js';
export { createPrometheusMetrics, type MetricsSource, type PrometheusMetrics } from './prometheus-metrics.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './health-server.js';
export { createLogger, type CreateLoggerOptions } from './logger.js';
