import {
  AstraError,
  ErrorCode,
  FrameType,
  RefusalReason,
  clampTimerMs,
  createNoopLogger,
  type ExecDispatchPayload,
  type Frame,
  type FrameError,
  type Logger,
} from '@astraflow/protocol';
import type { RunOutcome } from '@astraflow/runner';
import { noopTaskMetrics, type TaskMetrics } from '../metrics.js';
import { ConcurrencyGuard } from './concurrency-guard.js';
import { FailureCooldown } from './failure-cooldown.js';
import { dedupeKey, isTooLarge, taskIds } from './dispatch-ids.js';
import { dropRefusalReason, refusalDetails, type Refusal } from './refusal.js';
import type { Answer, DispatchStats, ExecDispatchHandlerOptions, RunningTask } from './exec-dispatch-types.js';
import type { DropReason, RouteContext, RouteHandler } from './route-handler.js';

export type {
  Answer,
  DispatchStats,
  ExecDispatchConfig,
  ExecDispatchHandlerOptions,
  LoadState,
  RunningTask,
  RunningTaskObserver,
} from './exec-dispatch-types.js';

/** What a task refused for waiting too long tells the scheduler to wait before trying this worker again. */
const QUEUE_RETRY_AFTER_MS = 1000;

/**
 * What became of a dispatch. An answer keeps its frame id once sent, so a repeat goes out under
 * the same id and the scheduler can recognise it; `acked` tells whether it is still in flight.
 */
type Seen = { state: 'running' } | { state: 'answered'; answer: Answer; frameId?: string; acked: boolean };

/**
 * Runs `biz.exec.dispatch` frames: each (`id`, `corr`) at most once, single
 * flight per `concurrency_key`, per-node-type limits (through the router's
 * `claim`, so a waiting node type holds no slot), timeouts, cooldown
 * after consecutive failures, and exactly one `biz.exec.result` or
 * `biz.exec.error` for every dispatch it is given — including the ones it
 * refuses or that a queue drops. An invocation lasts until the handler's
 * code has stopped, even when it was answered earlier (an inline handler past
 * its timeout cannot be killed), so the caps bound what really runs.
 */
export class ExecDispatchHandler implements RouteHandler {
  readonly ownsTimeout = true;
  readonly #o: ExecDispatchHandlerOptions;
  readonly #log: Logger;
  readonly #metrics: TaskMetrics;
  readonly #seen = new Map<string, Seen>();
  readonly #guard = new ConcurrencyGuard();
  readonly #cooldown: FailureCooldown;
  readonly #nodeLimits: ReadonlyMap<string, number>;
  readonly #nodeRunning = new Map<string, number>();
  readonly #remember: number;
  #running = 0;
  #idleWaiters: Array<() => void> = [];
  /** Frames queued longer than this are refused as overloaded (the router drops them). */
  readonly maxQueueWaitMs: number;
  readonly stats: DispatchStats = { refusedOverloaded: 0, overruns: 0, overrunning: 0 };
  /** Feedback frames dropped for exceeding `max_outbound_frame_bytes`. */
  #feedbackDropped = 0;
  readonly #runningTasks = new Set<RunningTask>();

  constructor(options: ExecDispatchHandlerOptions) {
    this.#o = options;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'dispatch' });
    this.#metrics = options.metrics ?? noopTaskMetrics;
    this.#remember = options.rememberAnswers ?? 10_000;
    this.#cooldown = new FailureCooldown(options.config.cooldown.maxFailures, options.config.cooldown.ms);
    this.#nodeLimits = new Map(Object.entries(options.config.perNodeLimits));
    this.maxQueueWaitMs = options.config.maxQueueWaitMs;
  }

  /** Dispatches admitted and not yet answered (queued or running). */
  get inflight(): number {
    return [...this.#seen.values()].filter((s) => s.state === 'running').length;
  }

  /** Resolves once every admitted dispatch is answered ({@link inflight} 0). */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Feedback frames dropped because they exceeded `max_outbound_frame_bytes` (monotonic). */
  get feedbackDropped(): number {
    return this.#feedbackDropped;
  }

  /** Dispatches whose handler is running now. */
  get running(): number {
    return this.#running;
  }

  admit(frame: Frame): boolean {
    const dispatch = frame.payload as ExecDispatchPayload;
    const key = dedupeKey(frame);
    const seen = this.#seen.get(key);
    if (seen?.state === 'running') {
      this.#log.info({ id: frame.id, task_id: dispatch.task_id }, 'duplicate dispatch ignored: already running');
      return false;
    }
    if (seen?.state === 'answered') {
      if (seen.acked) {
        this.#log.info({ id: frame.id, task_id: dispatch.task_id }, 'duplicate dispatch: sending the earlier answer again');
        void this.#send(frame, seen);
      } else {
        this.#log.info({ id: frame.id, task_id: dispatch.task_id }, 'duplicate dispatch: its answer is still on its way');
      }
      return false;
    }
    if (this.#o.isDraining()) {
      void this.#refuse(
        frame,
        { reason: RefusalReason.DRAINING, message: 'worker is draining and takes no new tasks' },
        'dispatch.admit',
      );
      return false;
    }
    if (this.#o.load?.overloaded === true) {
      void this.#refuse(
        frame,
        {
          reason: RefusalReason.OVERLOADED,
          message: 'worker overloaded (event-loop delay or heap use); task refused',
          retryAfterMs: this.#o.load.retryAfterMs,
        },
        'dispatch.admit',
      );
      return false;
    }
    const ckey = dispatch.concurrency_key;
    if (ckey !== undefined && !this.#guard.tryAcquire(ckey, key)) {
      this.#answerError(
        frame,
        ErrorCode.CMD_CONCURRENCY_VIOLATION,
        `concurrency_key "${ckey}" is already held by a running task`,
        'dispatch.concurrency',
      );
      return false;
    }
    this.#seen.set(key, { state: 'running' });
    return true;
  }

  /**
   * Lets a dispatch start when its node type is under its
   * `concurrency_per_node_limits` entry; the router keeps it queued otherwise.
   */
  claim(frame: Frame): (() => void) | undefined {
    const nodeType = (frame.payload as Partial<ExecDispatchPayload>).node_type;
    const limit = typeof nodeType === 'string' ? this.#nodeLimits.get(nodeType) : undefined;
    if (nodeType === undefined || limit === undefined) return () => {};
    const running = this.#nodeRunning.get(nodeType) ?? 0;
    if (running >= limit) return undefined;
    this.#nodeRunning.set(nodeType, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#nodeRunning.get(nodeType) ?? 1) - 1;
      if (left > 0) this.#nodeRunning.set(nodeType, left);
      else this.#nodeRunning.delete(nodeType);
    };
  }

  /**
   * Remembers an answer sent by an earlier run of the worker (replayed from
   * the durable outbox), so that the same dispatch arriving again is answered
   * with it under its original frame id instead of being run a second time.
   */
  restore(dispatch: { id: string; corr: string | null }, answer: Answer, frameId: string, acked: Promise<void>): void {
    const record: Seen & { state: 'answered' } = { state: 'answered', answer, frameId, acked: false };
    this.#seen.set(dedupeKey(dispatch), record);
    acked.then(
      () => {
        record.acked = true;
      },
      () => {},
    );
  }

  onDropped(frame: Frame, reason: DropReason): void {
    if (reason === 'overloaded') {
      void this.#refuse(frame, this.#queueWaitRefusal(), 'dispatch.queue');
      return;
    }
    const message =
      reason === 'shutdown'
        ? 'worker shut down before the task started'
        : reason === 'cooldown'
          ? 'dispatch handler cooling down; task refused before it started'
          : 'dispatch queue full; task refused before it started';
    void this.#refuse(frame, { reason: dropRefusalReason[reason], message }, `dispatch.${reason}`);
  }

  /**
   * Answers a dispatch whose payload failed its schema (the session hands
   * these over instead of dropping them) so the scheduler is not left
   * waiting; it never runs.
   */
  rejectInvalid(frame: Frame, error: FrameError): Promise<void> {
    const key = dedupeKey(frame);
    const seen = this.#seen.get(key);
    if (seen?.state === 'answered') return seen.acked ? this.#send(frame, seen) : Promise.resolve();
    return this.#answerError(frame, error.code, error.message, 'dispatch.validate');
  }

  async handle(frame: Frame, context: RouteContext): Promise<void> {
    const dispatch = frame.payload as ExecDispatchPayload;
    if (this.#o.refuses && (await this.#o.refuses(frame))) {
      await this.#refuse(
        frame,
        {
          reason: RefusalReason.OVERLOADED,
          message: 'worker overloaded: its outbox cannot record the task (disk full or failing); task refused',
        },
        'dispatch.admit',
      );
      return;
    }
    const handlerKey = `${dispatch.package_name}@${dispatch.package_version}:${dispatch.node_type}`;
    const cooling = this.#cooldown.remainingMs(handlerKey);
    if (cooling > 0) {
      await this.#refuse(
        frame,
        {
          reason: RefusalReason.COOLDOWN,
          message: `handler ${handlerKey} is cooling down after consecutive failures (${Math.ceil(cooling / 1000)} s left)`,
          retryAfterMs: Math.ceil(cooling),
        },
        'dispatch.cooldown',
      );
      return;
    }
    // Time already spent in the router queue counts against the wait limit; the rest bounds the wait for a thread.
    const startBudgetMs = this.maxQueueWaitMs > 0 ? this.maxQueueWaitMs - context.queuedMs : undefined;
    if (startBudgetMs !== undefined && startBudgetMs <= 0) {
      await this.#refuse(frame, this.#queueWaitRefusal(), 'dispatch.queue');
      return;
    }
    // Only a task that calls ctx.next needs a signal for its end: made on the first call.
    let taskEnded: AbortController | undefined;
    let ended = false;
    const taskEndedSignal = (): AbortSignal => {
      if (taskEnded === undefined) {
        taskEnded = new AbortController();
        if (ended) taskEnded.abort();
      }
      return taskEnded.signal;
    };
    this.#running++;
    const runningTask: RunningTask = { task_id: dispatch.task_id, run_id: dispatch.run_id, node_type: dispatch.node_type };
    this.#runningTasks.add(runningTask);
    this.#o.runningTasks?.started(runningTask);
    this.#o.onRunningTasksChange?.([...this.#runningTasks]);
    this.#metrics.taskStarted(dispatch.node_type);
    const started = performance.now();
    let settled: Promise<void> | undefined;
    try {
      const outcome: RunOutcome = await this.#o.runner
        .run({
          dispatch,
          tenant: this.#o.config.tenant,
          signal: context.signal,
          ...(this.#timeoutMs(dispatch) ? { timeoutMs: this.#timeoutMs(dispatch) } : {}),
          ...(startBudgetMs !== undefined ? { startTimeoutMs: startBudgetMs } : {}),
          emitFeedback: async (body) => {
            try {
              await this.#o.outbox.send(
                FrameType.EXEC_FEEDBACK,
                { run_id: dispatch.run_id, task_id: dispatch.task_id, ...body },
                { corr: dispatch.task_id },
              );
            } catch (err) {
              if (!isTooLarge(err)) throw err;
              // Never sent: the scheduler would close the link over it. The task goes on.
              this.#feedbackDropped++;
              this.#log.warn({ task_id: dispatch.task_id, ...err.details }, 'feedback chunk too large; dropped');
            }
          },
          next: (call) => this.#o.next.request(dispatch, call, taskEndedSignal()),
          logger: this.#log,
        })
        .catch((err: unknown): RunOutcome => {
          // The runner turns every failure into an outcome; should it break that promise, the scheduler still gets an answer.
          const error = AstraError.wrap(err, ErrorCode.INTERNAL);
          return {
            kind: 'error',
            payload: {
              code: error.code,
              message: error.message || 'runner failed',
              context: {
                where: 'dispatch.run',
                details: { run_id: dispatch.run_id, task_id: dispatch.task_id, node_id: dispatch.node_id },
              },
            },
          };
        });
      settled = outcome.settled;
      // A task refused for want of a thread never ran: it says nothing about the handler's health.
      const refused = outcome.kind === 'error' && outcome.payload.context?.details?.reason === 'overloaded';
      if (refused) this.stats.refusedOverloaded++;
      const failed = outcome.kind === 'error' || outcome.payload.status === 'FAILED';
      if (refused) {
        // neither a failure nor a success of the handler
      } else if (failed && this.#cooldown.recordFailure(handlerKey)) {
        this.#log.warn({ handler: handlerKey }, 'handler cooling down after consecutive failures');
      } else if (!failed) {
        this.#cooldown.recordSuccess(handlerKey);
      }
      const answer: Answer =
        outcome.kind === 'result'
          ? { type: FrameType.EXEC_RESULT, payload: outcome.payload }
          : { type: FrameType.EXEC_ERROR, payload: outcome.payload };
      this.#metrics.taskFinished(
        dispatch.node_type,
        performance.now() - started,
        outcome.kind === 'result' ? outcome.payload.status : outcome.payload.code,
      );
      let stopped = false;
      void settled?.then(() => (stopped = true));
      await this.#finish(frame, answer);
      if (settled !== undefined && !stopped) await this.#overrun(dispatch, answer, settled);
    } finally {
      ended = true;
      taskEnded?.abort();
      this.#running--;
      this.#runningTasks.delete(runningTask);
      this.#o.runningTasks?.ended(runningTask);
      this.#o.onRunningTasksChange?.([...this.#runningTasks]);
    }
  }

  /**
   * Waits for a handler that was answered while its code still runs. It keeps
   * its slot meanwhile: an inline handler cannot be killed, and freeing the
   * slot would let more code run than the caps allow.
   */
  async #overrun(dispatch: ExecDispatchPayload, answer: Answer, settled: Promise<void>): Promise<void> {
    const since = performance.now();
    this.stats.overruns++;
    this.stats.overrunning++;
    this.#log.warn(
      {
        task_id: dispatch.task_id,
        node_type: dispatch.node_type,
        answer: answer.type === FrameType.EXEC_ERROR ? answer.payload.code : answer.payload.status,
      },
      'handler still running after its answer; it keeps its slot until it stops (use exec_mode thread for code that ignores ctx.signal)',
    );
    try {
      await settled;
    } finally {
      this.stats.overrunning--;
      this.#log.debug(
        { task_id: dispatch.task_id, overrun_ms: Math.round(performance.now() - since) },
        'overrunning handler stopped',
      );
    }
  }

  #queueWaitRefusal(): Refusal {
    return {
      reason: RefusalReason.OVERLOADED,
      message: `task waited more than ${this.maxQueueWaitMs} ms in the worker without starting; the worker is overloaded`,
      retryAfterMs: QUEUE_RETRY_AFTER_MS,
    };
  }

  #refuse(frame: Frame, refusal: Refusal, where: string): Promise<void> {
    if (refusal.reason === 'overloaded') this.stats.refusedOverloaded++;
    const { code, details } = refusalDetails(refusal);
    return this.#answerError(frame, code, refusal.message, where, details);
  }

  #timeoutMs(dispatch: ExecDispatchPayload): number | undefined {
    const candidates = [dispatch.constraints.timeout_ms, this.#o.config.taskTimeoutMs].filter(
      (ms): ms is number => typeof ms === 'number' && ms > 0,
    );
    // Clamped: Node fires a timer above 2^31 − 1 ms after 1 ms, which would fail every such task at once.
    return candidates.length > 0 ? clampTimerMs(Math.min(...candidates)) : undefined;
  }

  #answerError(frame: Frame, code: string, message: string, where: string, extra: Record<string, unknown> = {}): Promise<void> {
    const dispatch = frame.payload as Partial<ExecDispatchPayload>;
    const details = {
      ...taskIds(dispatch),
      ...extra,
    };
    this.#log.info({ id: frame.id, task_id: dispatch.task_id, code, ...extra }, message);
    return this.#finish(frame, {
      type: FrameType.EXEC_ERROR,
      payload: {
        code,
        message,
        context: { where, details },
      },
    });
  }

  /** Records the answer for de-duplication, frees the concurrency key, and sends it. */
  async #finish(frame: Frame, answer: Answer): Promise<void> {
    const key = dedupeKey(frame);
    this.#seen.delete(key);
    const record: Seen & { state: 'answered' } = { state: 'answered', answer, acked: false };
    this.#seen.set(key, record);
    while (this.#seen.size > this.#remember) {
      const oldest = this.#seen.keys().next().value as string;
      if (this.#seen.get(oldest)?.state === 'running') break;
      this.#seen.delete(oldest);
    }
    const ckey = (frame.payload as ExecDispatchPayload).concurrency_key;
    if (ckey !== undefined) this.#guard.release(ckey, key);
    if (this.#idleWaiters.length > 0 && this.inflight === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
    await this.#send(frame, record);
  }

  async #send(frame: Frame, record: Seen & { state: 'answered' }, substituted = false): Promise<void> {
    const { answer } = record;
    try {
      const receipt = await this.#o.outbox.send(answer.type, answer.payload, {
        corr: frame.id,
        ...(typeof frame.seq === 'number' ? { seq: frame.seq } : {}),
        ...(record.frameId !== undefined ? { id: record.frameId } : {}),
        ackRequest: true,
      });
      record.frameId = receipt.frame.id;
      record.acked = false;
      receipt.acked.then(
        () => {
          record.acked = true;
        },
        () => {},
      );
    } catch (err) {
      if (isTooLarge(err) && !substituted) {
        // The answer itself can never be sent: answer that instead, so the link and later tasks go on.
        const { bytes, limit } = err.details as { bytes: number; limit: number };
        const dispatch = frame.payload as Partial<ExecDispatchPayload>;
        record.answer = {
          type: FrameType.EXEC_ERROR,
          payload: {
            code: ErrorCode.RUNNER_FAILURE,
            message: `result too large (${bytes} bytes, limit ${limit}); return big data as an artifact instead`,
            context: {
              where: 'dispatch.answer',
              details: taskIds(dispatch),
            },
          },
        };
        this.#log.warn({ id: frame.id, task_id: dispatch.task_id, bytes, limit }, 'answer too large; answering E.RUNNER.FAILURE');
        return this.#send(frame, record, true);
      }
      this.#log.error({ err, id: frame.id }, 'could not send the answer to a dispatch');
    }
  }
}
