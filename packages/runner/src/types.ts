import type {
  ExecDispatchPayload,
  ExecErrorPayload,
  ExecFeedbackPayload,
  ExecResultPayload,
  Logger,
  ResourceRef,
} from '@astraflow/protocol';
import type { ExecMode } from '@astraflow/protocol';
import type { HandlerResolver, ResolvedHandler } from './handler-resolver.js';
import type { HandlerResources, ResourceHandle, ResourceRegistry } from './resource-registry.js';

/** A `biz.exec.feedback` payload without the ids (the worker adds `run_id`/`task_id`). */
export type FeedbackBody = Omit<ExecFeedbackPayload, 'run_id' | 'task_id'>;

/** Feedback chunk channels (`biz.exec.feedback` `chunks[].channel`). */
export type FeedbackChannelName = 'stdout' | 'stderr' | 'log' | 'llm' | 'metric' | 'custom';

/** One `ctx.next(...)` call, as the worker must turn it into `biz.exec.next.request`. */
export interface NextCall {
  payload: Record<string, unknown>;
  hostCtx?: Record<string, unknown>;
  middlewareCtx?: Record<string, unknown>;
  timeoutMs?: number;
}

/** Options of `ctx.next(payload, options)`. */
export interface NextOptions {
  hostCtx?: Record<string, unknown>;
  middlewareCtx?: Record<string, unknown>;
  timeoutMs?: number;
}

/** `ctx.feedback`: progress, messages and streamed output of a running task. */
export interface HandlerFeedback {
  /** Queues `body` after everything sent before it; resolves once the worker accepted the frame carrying it. */
  send(body: FeedbackBody): Promise<void>;
  /** Queues `body` without waiting; may be coalesced with other bodies (see the README's feedback policy). */
  sendNowait(body: FeedbackBody): void;
  /** Queues one text chunk (default channel `log`) without waiting. */
  emitText(text: string, channel?: FeedbackChannelName): void;
}

/** The context a handler receives (README, "The handler contract"). */
export interface HandlerContext {
  runId: string;
  taskId: string;
  nodeId: string;
  nodeType: string;
  packageName: string;
  packageVersion: string;
  /** The dispatch `parameters`. */
  params: Record<string, unknown>;
  tenant: string;
  /**
   * `<dataDir>/<run_id>/<task_id>`; the folder is created (synchronously) when this is first read, so it
   * exists whenever a handler uses it. Removed when the task ends unless {@link HandlerContext.keepDataDir} was called.
   */
  dataDir: string;
  hostNodeId: string | undefined;
  middlewareChain: string[];
  chainIndex: number | undefined;
  /** Adapter metadata merged with the node's `config`. */
  metadata: Record<string, unknown>;
  resourceRefs: ResourceRef[];
  /** The dispatch's `resource_refs`, leased for this task (released when it ends). Plain data. */
  leasedResources: ResourceHandle[];
  /**
   * The worker-local resource registry (the runner README, "Resources"). Every call is asynchronous: in
   * `thread` mode it crosses to the main thread, so specs and metadata must be structured-cloneable
   * plain data, and what comes back is a copy ({@link ResourceHandle}), never a shared object.
   */
  resources: HandlerResources;
  workerName: string | undefined;
  /** Fires on timeout, cancel and shutdown; its `reason` is an `AstraError`. */
  signal: AbortSignal;
  /** Child logger bound to `run_id`, `task_id`, `node_id`. */
  logger: Logger;
  feedback: HandlerFeedback;
  /**
   * Keeps {@link HandlerContext.dataDir} after the task ends (by default it
   * is removed). Kept folders are removed by the start-up sweep once older
   * than `task_data_retention_seconds`.
   */
  keepDataDir(): void;
  /** Calls the next middleware / host node; resolves with its result. */
  next(payload: Record<string, unknown>, options?: NextOptions): Promise<Record<string, unknown>>;
}

/** Worker-thread pool settings. */
export interface RunnerThreadOptions {
  /** Threads started with the pool (on first use or {@link Runner.prewarm}) and kept alive when idle (default 0). */
  minThreads?: number;
  /** Upper bound of concurrently running thread handlers (default: available parallelism, at least 2). */
  maxThreads?: number;
  /** How long an idle thread above `minThreads` lives (default 30 000 ms). */
  idleTimeoutMs?: number;
}

/** Feedback coalescing limits (see the README's feedback policy). */
export interface RunnerFeedbackOptions {
  /** Chunks held while a frame is in flight before the oldest are dropped (default 4096). */
  maxPendingChunks?: number;
  /** Chunks per `biz.exec.feedback` frame (default 256). */
  maxChunksPerFrame?: number;
}

/** Options of {@link createRunner}. */
export interface RunnerOptions {
  /** Resolves a node to its handler and holds its version while the task runs. */
  resolver: HandlerResolver;
  /** Root of per-task data folders: `<dataDir>/<run_id>/<task_id>`. */
  dataDir: string;
  /** Used when neither node nor adapter names an exec mode (default `auto`). */
  defaultExecMode?: ExecMode;
  workerName?: string;
  logger?: Logger;
  threads?: RunnerThreadOptions;
  feedback?: RunnerFeedbackOptions;
  /** The worker's resource registry; default a new one for `workerName`. */
  resources?: ResourceRegistry;
}

/** One dispatch to run, with the worker's callbacks for feedback and middleware calls. */
export interface RunTask {
  dispatch: ExecDispatchPayload;
  tenant: string;
  /** The caller's cancel; an `AstraError` reason supplies the answer's code (default `E.RUNNER.CANCELLED`). */
  signal?: AbortSignal;
  /** Aborts `ctx.signal` and answers `E.TIMEOUT` once elapsed; counted from the moment the handler starts. */
  timeoutMs?: number;
  /**
   * Longest wait for the handler to start (a thread-mode task waits in the pool
   * queue for a free thread). Past it the task ends without running, as
   * `E.RUNNER.CANCELLED` with `details.reason: "overloaded"`.
   */
  startTimeoutMs?: number;
  /** Sends one feedback frame; resolves when the worker accepted it (this is the backpressure). */
  emitFeedback(body: FeedbackBody): Promise<void>;
  /** Sends `biz.exec.next.request` and resolves with the response's `result`. */
  next(call: NextCall): Promise<Record<string, unknown>>;
  /** Overrides the runner's logger for this task. */
  logger?: Logger;
}

/** How a task ended: a `biz.exec.result` or a `biz.exec.error` payload, ready to send. */
export type RunOutcome = (
  | { kind: 'result'; payload: ExecResultPayload; execMode: 'inline' | 'thread' }
  | { kind: 'error'; payload: ExecErrorPayload; execMode?: 'inline' | 'thread' }
) & {
  /**
   * Resolves once the handler's code has really stopped. An inline handler
   * that ignores `ctx.signal` runs on after its timeout answer and cannot be
   * killed; callers that cap concurrency should hold its slot until then.
   * Absent when no handler code ran.
   */
  settled?: Promise<void>;
};

/** Runs dispatches. Create with {@link createRunner}. */
export interface Runner {
  /** Runs one task. Never rejects: every failure becomes an `error` outcome. */
  run(task: RunTask): Promise<RunOutcome>;
  /**
   * Pre-warms the thread pool for the `thread`-mode handlers among `handlers`
   * (call it when packages load): threads start and load those modules now,
   * not on the first task. Resolves with the threads warmed; never rejects.
   */
  prewarm(handlers: readonly ResolvedHandler[]): Promise<number>;
  /** Destroys the thread pool; running thread tasks end with `E.RUNNER.CANCELLED`. */
  close(): Promise<void>;
}
