import type { ExecErrorPayload, ExecResultPayload, Frame, FrameType, Logger } from '@astraflow/protocol';
import type { Runner } from '@astraflow/runner';
import type { TaskMetrics } from '../metrics.js';
import type { Outbox } from '../outbox.js';
import type { CooldownConfig } from './failure-cooldown.js';
import type { NextBroker } from './next-broker.js';

/** The dispatch handler's settings, compiled once by `compileWorkerOptions` (milliseconds, clamped). */
export interface ExecDispatchConfig {
  tenant: string;
  /** `handler_dispatch_timeout_seconds`; a dispatch's own `constraints.timeout_ms` may only shorten it. */
  taskTimeoutMs: number;
  /** Per `package@version:node_type`; the same settings as the router's per-type cooldown. */
  cooldown: CooldownConfig;
  /** `concurrency_per_node_limits`. */
  perNodeLimits: Readonly<Record<string, number>>;
  /** `handler_dispatch_max_queue_wait_seconds` (0 = no limit). */
  maxQueueWaitMs: number;
}

/** The worker's own load, as the dispatch handler sees it (a `LoadMonitor` satisfies it). */
export interface LoadState {
  readonly overloaded: boolean;
  readonly retryAfterMs: number;
}

/** Counters of the dispatch handler, for metrics. Monotonic unless noted. */
export interface DispatchStats {
  /** Dispatches refused because the worker was overloaded (load or queue wait). */
  refusedOverloaded: number;
  /** Handlers answered (timeout, cancel) while their code was still running. */
  overruns: number;
  /** Handlers running on after their answer right now (a gauge). */
  overrunning: number;
}

/** Dependencies of {@link ExecDispatchHandler}. */
export interface ExecDispatchHandlerOptions {
  config: ExecDispatchConfig;
  outbox: Outbox;
  runner: Runner;
  next: NextBroker;
  /** True once the worker drains: new dispatches are refused (`E.RUNNER.CANCELLED`, reason `draining`). */
  isDraining(): boolean;
  metrics?: TaskMetrics;
  logger?: Logger;
  /** How many answered dispatches to remember for de-duplication. */
  rememberAnswers?: number;
  /** When overloaded, new dispatches are refused as `E.RUNNER.CANCELLED` reason `overloaded`. */
  load?: LoadState;
  /**
   * True for a dispatch the worker cannot take on safely (its durable record
   * could not be written): it is refused with `E.RUNNER.CANCELLED`, reason
   * `overloaded`, so the scheduler runs it elsewhere or later.
   */
  refuses?(frame: Frame): boolean | Promise<boolean>;
  /** Called with every running task whenever a handler starts or ends (the watchdog names them). */
  onRunningTasksChange?: (tasks: readonly RunningTask[]) => void;
  /** Told of each task that starts and ends (O(1) per task; preferred over `onRunningTasksChange`). */
  runningTasks?: RunningTaskObserver;
}

/** Follows the running tasks one start and one end at a time (e.g. the watchdog). */
export interface RunningTaskObserver {
  /** A handler started; `task` is the same object {@link RunningTaskObserver.ended} later gets. */
  started(task: RunningTask): void;
  ended(task: RunningTask): void;
}

/** A task whose handler is running. */
export interface RunningTask {
  task_id: string;
  run_id: string;
  node_type: string;
}

/** An answer to a dispatch. */
export type Answer =
  | { type: typeof FrameType.EXEC_RESULT; payload: ExecResultPayload }
  | { type: typeof FrameType.EXEC_ERROR; payload: ExecErrorPayload };
