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
// The public API only: what setup() returns and takes, the session (usable on its own with any
// transport), the route-handler contract for extra frame types, and the observability pieces.
// The dispatch pipeline's parts (router internals, exec handler, next broker, guards, queues) are
// internal; docs/architecture.md describes them.
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
export type {
  DropReason,
  RouteContext,
  RouteHandler,
  Router,
  RouterConfig,
  RouterStats,
} from './dispatch/router.js';
export type { RunningTask, RunningTaskObserver } from './dispatch/exec-dispatch-handler.js';
export type { Outbox } from './outbox.js';
export type { DurableOutbox, DurableOutboxStats } from './durable-outbox.js';
export { noopTaskMetrics, type TaskMetrics } from './metrics.js';
export {
  createPrometheusMetrics,
  MAX_LABEL_VALUES,
  OTHER_LABEL,
  type MetricsSource,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
} from './prometheus-metrics.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './health-server.js';
export { createLogger, type CreateLoggerOptions, type LogIdentity } from './logger.js';
export { exitProcess, guardProcessExit } from './process-guard.js';
export { scrubSecretEnv } from './secret-env.js';
export { startWatchdog, type Watchdog, type WatchdogOptions } from './watchdog.js';
export type { WatchdogTask } from './watchdog-messages.js';
