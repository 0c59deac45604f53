import {
  AstraError,
  ErrorCode,
  ExecErrorPayloadSchema,
  ExecResultPayloadSchema,
  clampTimerMs,
  FrameType,
  payloadIsValid,
  createNoopLogger,
  isExecMode,
  errorMessage,
} from '@astraflow/protocol';
import type { ExecErrorPayload, ExecMode, ExecResultPayload } from '@astraflow/protocol';
import type { HandlerLease, ResolvedHandler } from './handler-resolver.js';
import type { ContextData, Execution, ExecutionResult, FailureStage } from './execution.js';
import { createFeedbackChannel, resolveFeedbackLimits } from './feedback-channel.js';
import { LazyFeedbackChannel } from './lazy-feedback.js';
import { createLazyChildLogger } from './lazy-logger.js';
import { createResourceRegistry, type ResourceHandle } from './resource-registry.js';
import { startInline } from './inline-execution.js';
import type { NormalizedResult } from './normalize-result.js';
import { TaskDataDir, taskDataDirPath } from './task-data-dir.js';
import { releaseTaskDataDir } from './task-data-lifecycle.js';
import { startThread } from './thread-execution.js';
import { createThreadPool } from './thread-pool.js';
import type { RunOutcome, RunTask, Runner, RunnerOptions } from './types.js';

/** Longest wait for queued feedback before the outcome is returned. */
export const FEEDBACK_FLUSH_TIMEOUT_MS = 2000;

/**
 * Where a handler runs: the node/adapter setting (already merged into
 * `handler.execMode`), else `defaultMode`; `auto` runs async functions
 * inline and plain functions in a thread.
 */
export function resolveExecMode(
  handler: Pick<ResolvedHandler, 'execMode' | 'isAsync'>,
  defaultMode: ExecMode = 'auto',
): 'inline' | 'thread' {
  const mode = handler.execMode ?? defaultMode;
  if (mode === 'auto') return handler.isAsync ? 'inline' : 'thread';
  return mode;
}

/** The abort reason as the error to answer with (an `AstraError` reason keeps its code). */
function cancelError(reason: unknown): AstraError {
  if (AstraError.isInstance(reason)) return reason;
  const message = reason === undefined ? '' : errorMessage(reason);
  return new AstraError(
    ErrorCode.RUNNER_CANCELLED,
    message === '' || message === 'This operation was aborted' ? 'task cancelled' : message,
    {
      cause: reason,
    },
  );
}

type Aborted = { aborted: AstraError; stage: FailureStage; details?: Record<string, unknown> };

/** How long a task refused for a full thread pool tells the scheduler to wait before trying this worker again. */
const POOL_RETRY_AFTER_MS = 1000;

function abortStage(error: AstraError): FailureStage {
  return error.code === ErrorCode.TIMEOUT ? 'timeout' : 'cancel';
}

/**
 * Creates a {@link Runner}.
 *
 * @example
 * ```ts
 * const runner = createRunner({ resolver, dataDir: '/var/lib/astraflow/data' });
 * const outcome = await runner.run({ dispatch, tenant: 'default', emitFeedback, next });
 * ```
 */
export function createRunner(options: RunnerOptions): Runner {
  const baseLogger = options.logger ?? createNoopLogger();
  const defaultMode = options.defaultExecMode ?? 'auto';
  if (!isExecMode(defaultMode)) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `defaultExecMode must be auto, inline or thread, got ${String(defaultMode)}`);
  }
  const pool = createThreadPool(options.threads);
  const feedbackLimits = resolveFeedbackLimits(options.feedback ?? {});
  const resources =
    options.resources ?? createResourceRegistry(options.workerName !== undefined ? { workerName: options.workerName } : {});
  let closed = false;

  async function runTask(task: RunTask): Promise<RunOutcome> {
    const started = performance.now();
    const dispatch = task.dispatch;
    // Made on the first line written at an enabled level: most tasks write none.
    const logger = createLazyChildLogger(task.logger ?? baseLogger, {
      run_id: dispatch.run_id,
      task_id: dispatch.task_id,
      node_id: dispatch.node_id,
    });
    let execMode: 'inline' | 'thread' | undefined;

    const errorOutcome = (stage: FailureStage, error: AstraError, extra: Record<string, unknown> = {}): RunOutcome => {
      const payload: ExecErrorPayload = {
        code: error.code || ErrorCode.RUNNER_FAILURE,
        message: error.message || error.code || 'task failed',
        context: {
          where: `runner.${stage}`,
          details: {
            run_id: dispatch.run_id,
            task_id: dispatch.task_id,
            node_id: dispatch.node_id,
            node_type: dispatch.node_type,
            ...extra,
          },
        },
      };
      const checked = ExecErrorPayloadSchema.safeParse(payload);
      const final = checked.success ? checked.data : { code: ErrorCode.RUNNER_FAILURE, message: payload.message };
      logger.warn({ code: final.code, where: `runner.${stage}`, err: final.message }, 'task failed');
      return execMode === undefined ? { kind: 'error', payload: final } : { kind: 'error', payload: final, execMode };
    };

    if (closed) return errorOutcome('cancel', new AstraError(ErrorCode.RUNNER_CANCELLED, 'the runner is closed'));
    if (task.signal?.aborted === true) {
      const error = cancelError(task.signal.reason);
      return errorOutcome(abortStage(error), error);
    }

    let lease: HandlerLease;
    try {
      lease = options.resolver.acquire(dispatch.package_name, dispatch.package_version, dispatch.node_type);
    } catch (error) {
      const cause = AstraError.wrap(error, ErrorCode.RUNNER_FAILURE);
      return errorOutcome(
        'resolve',
        new AstraError(
          ErrorCode.RUNNER_FAILURE,
          `cannot resolve ${dispatch.package_name}@${dispatch.package_version} node ${dispatch.node_type}: ${cause.message}`,
          { cause },
        ),
        { cause_code: cause.code },
      );
    }

    let execution: Execution | undefined;
    let leasedRefs: { handles: ResourceHandle[]; release(): void } | undefined;
    let taskDataDir: TaskDataDir | undefined;
    let abortedRun = false;
    try {
      const outcome = await runLeased(lease.handler);
      return execution === undefined ? outcome : { ...outcome, settled: execution.finished };
    } catch (error) {
      // Every expected failure is handled below; this is a bug in the runner itself.
      return errorOutcome('handler', AstraError.wrap(error, ErrorCode.INTERNAL));
    } finally {
      // Only once the handler really stopped: an aborted one may still be writing to its folder.
      const releaseAll = (): void => {
        lease.release();
        leasedRefs?.release();
        // Only a folder that may exist: made inline or reported by the thread; an aborted thread
        // (possibly terminated before its report arrived) is cleaned up regardless.
        if (taskDataDir !== undefined && (taskDataDir.created || (execMode === 'thread' && abortedRun))) {
          void releaseTaskDataDir(taskDataDir.path, logger);
        }
      };
      if (execution === undefined) releaseAll();
      else void execution.finished.then(releaseAll);
    }

    async function runLeased(handler: ResolvedHandler): Promise<RunOutcome> {
      if (handler.fn === undefined) {
        return errorOutcome(
          'resolve',
          new AstraError(
            ErrorCode.RUNNER_FAILURE,
            `node ${dispatch.node_type} needs runtime '${handler.runtime}', which this worker cannot run`,
          ),
        );
      }
      execMode = resolveExecMode(handler, defaultMode);

      // Before anything else runs: a ref pinned elsewhere, unknown or expired refuses the task (E.RESOURCE.MISSING).
      try {
        leasedRefs = resources.leaseRefs(dispatch.resource_refs ?? []);
      } catch (error) {
        return errorOutcome('prepare', AstraError.wrap(error, ErrorCode.RESOURCE_MISSING));
      }

      // Created when the handler first reads ctx.dataDir, not here: most handlers never do.
      let dataDir: TaskDataDir;
      try {
        dataDir = new TaskDataDir(taskDataDirPath(options.dataDir, dispatch.run_id, dispatch.task_id));
        taskDataDir = dataDir;
      } catch (error) {
        return errorOutcome('prepare', AstraError.wrap(error, ErrorCode.RUNNER_FAILURE));
      }

      // Made on the handler's first feedback call: most handlers send none.
      const feedback = new LazyFeedbackChannel(() =>
        createFeedbackChannel({ sink: (body) => task.emitFeedback(body), logger, ...feedbackLimits }),
      );
      const context: ContextData = {
        runId: dispatch.run_id,
        taskId: dispatch.task_id,
        nodeId: dispatch.node_id,
        nodeType: dispatch.node_type,
        packageName: dispatch.package_name,
        packageVersion: dispatch.package_version,
        params: dispatch.parameters,
        tenant: task.tenant,
        dataDir: dataDir.path,
        hostNodeId: dispatch.host_node_id,
        middlewareChain: dispatch.middleware_chain ?? [],
        chainIndex: dispatch.chain_index,
        metadata: handler.metadata,
        resourceRefs: dispatch.resource_refs ?? [],
        leasedResources: leasedRefs.handles,
        workerName: options.workerName,
      };
      let taskEnded = false;
      const env = {
        handler,
        context,
        dataDir,
        logger,
        feedback,
        next: (call: Parameters<RunTask['next']>[0]) =>
          taskEnded
            ? Promise.reject(new AstraError(ErrorCode.RUNNER_CANCELLED, 'ctx.next called after the task ended'))
            : task.next(call),
        resources,
      };

      let onAborted!: (value: Aborted) => void;
      const aborted = new Promise<Aborted>((resolve) => (onAborted = resolve));
      let decided = false;
      const abort = (error: AstraError, stage: FailureStage, details?: Record<string, unknown>): void => {
        if (decided) return;
        decided = true;
        abortedRun = true;
        execution?.abort(error);
        onAborted(details === undefined ? { aborted: error, stage } : { aborted: error, stage, details });
      };
      const timeoutMs = effectiveTimeout(task.timeoutMs, dispatch.constraints?.timeout_ms);
      const startTimeoutMs = effectiveTimeout(task.startTimeoutMs, undefined);
      // The handler's clock starts when the handler does, not while it waits for a thread.
      let timer: NodeJS.Timeout | undefined;
      let startTimer: NodeJS.Timeout | undefined;
      const startClock = (): void => {
        clearTimeout(startTimer);
        if (decided || timeoutMs === undefined) return;
        timer = setTimeout(
          () => abort(new AstraError(ErrorCode.TIMEOUT, `handler did not finish within ${timeoutMs} ms`), 'timeout'),
          clampTimer(timeoutMs),
        );
      };
      const onCancel = (): void => {
        const error = cancelError(task.signal?.reason);
        abort(error, abortStage(error));
      };
      task.signal?.addEventListener('abort', onCancel, { once: true });
      // The signal may have fired while the data folder was being created.
      if (task.signal?.aborted === true) onCancel();

      let first: ExecutionResult | Aborted;
      try {
        if (!decided) {
          logger.debug({ exec_mode: execMode, node_type: dispatch.node_type }, 'running handler');
          execution = execMode === 'inline' ? startInline(env) : startThread(env, pool);
          if (startTimeoutMs !== undefined) {
            startTimer = setTimeout(
              () =>
                abort(
                  new AstraError(
                    ErrorCode.RUNNER_CANCELLED,
                    `no free thread within ${startTimeoutMs} ms; the worker is overloaded`,
                  ),
                  'queue',
                  { reason: 'overloaded', retry_after_ms: POOL_RETRY_AFTER_MS },
                ),
              clampTimer(startTimeoutMs),
            );
          }
          void execution.started.then(startClock);
        }
        first = await Promise.race(execution === undefined ? [aborted] : [execution.result, aborted]);
      } finally {
        decided = true;
        clearTimeout(timer);
        clearTimeout(startTimer);
        task.signal?.removeEventListener('abort', onCancel);
      }

      // Feedback precedes the result on the wire, but a stuck sink must not hold the answer back.
      const flushed = await feedback.flush(FEEDBACK_FLUSH_TIMEOUT_MS);
      if (!flushed) logger.warn({ timeout_ms: FEEDBACK_FLUSH_TIMEOUT_MS }, 'feedback not delivered before the result');
      feedback.close();
      taskEnded = true;

      if ('aborted' in first) return errorOutcome(first.stage, first.aborted, first.details);
      if (!first.ok) return errorOutcome(first.stage, first.error);
      return resultOutcome(first.result, handler, execMode);
    }

    function resultOutcome(result: NormalizedResult, handler: ResolvedHandler, mode: 'inline' | 'thread'): RunOutcome {
      const payload: ExecResultPayload = {
        run_id: dispatch.run_id,
        task_id: dispatch.task_id,
        status: result.status,
        result: result.outputs,
        duration_ms: Math.max(0, Math.round(performance.now() - started)),
        metadata: {
          exec_mode: mode,
          node_type: dispatch.node_type,
          package: `${handler.packageName}@${handler.packageVersion}`,
          ...result.metadata,
        },
      };
      if (result.artifacts !== undefined) payload.artifacts = result.artifacts;
      if (result.error !== undefined) payload.error = result.error;
      // The common result (no artifacts) passes the fast check; the schema judges, and words, the rest.
      const checked = payloadIsValid(FrameType.EXEC_RESULT, payload)
        ? ({ success: true, data: payload } as const)
        : ExecResultPayloadSchema.safeParse(payload);
      if (!checked.success) {
        const issues = checked.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
        return errorOutcome('result', new AstraError(ErrorCode.RUNNER_FAILURE, `invalid result payload (${issues})`));
      }
      logger.debug({ status: result.status, duration_ms: payload.duration_ms, exec_mode: mode }, 'task finished');
      return { kind: 'result', payload: checked.data, execMode: mode };
    }
  }

  return {
    run: (task) =>
      runTask(task).catch((error: unknown): RunOutcome => {
        // Only reachable with input that breaks the types (e.g. no dispatch); still an answer, never a rejection.
        const wrapped = AstraError.wrap(error, ErrorCode.INTERNAL);
        baseLogger.error({ err: wrapped.message }, 'runner failed before the task could start');
        return {
          kind: 'error',
          payload: { code: wrapped.code, message: wrapped.message || 'runner failure', context: { where: 'runner.resolve' } },
        };
      }),
    async prewarm(handlers) {
      const threaded = handlers.filter((h) => h.fn !== undefined && resolveExecMode(h, defaultMode) === 'thread');
      if (closed || threaded.length === 0) return 0;
      const warmed = await pool.warm(
        threaded.map((h) => ({
          modulePath: h.modulePath,
          exportName: h.exportName,
          handlerName: h.handlerName,
          cacheKey: h.cacheKey,
          packageRoot: h.packageRoot,
          loaderUrl: h.loaderUrl,
        })),
      );
      baseLogger.debug({ threads: warmed, handlers: threaded.length }, 'thread pool warmed');
      return warmed;
    },
    async close() {
      closed = true;
      await pool.close();
    },
  };
}

/** Node's setTimeout fires at once for delays past 2^31−1 ms; a longer timeout is as good as none, so cap it there. */
function clampTimer(ms: number): number {
  return Math.min(ms, 2 ** 31 - 1);
}

/** The tighter of the caller's timeout and the dispatch's `constraints.timeout_ms`. */
function effectiveTimeout(callerMs: number | undefined, dispatchMs: number | undefined): number | undefined {
  const candidates = [callerMs, dispatchMs].filter(
    (value): value is number => typeof value === 'number' && Number.isFinite(value) && value > 0,
  );
  // Clamped: Node fires a timer above 2^31 − 1 ms after 1 ms.
  return candidates.length === 0 ? undefined : clampTimerMs(Math.min(...candidates));
}
