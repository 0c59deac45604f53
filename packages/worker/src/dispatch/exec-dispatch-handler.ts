import {
  AstraError,
  ErrorCode,
  FrameType,
  RefusalReason,
  createNoopLogger,
  type ExecDispatchPayload,
  type ExecErrorPayload,
  type ExecResultPayload,
  type Frame,
  type FrameError,
  type Logger,
  type RefusalReasonValue,
} from '@astraflow/protocol';
import type { Settings } from '@astraflow/config';
import type { RunOutcome, Runner } from '@astraflow/runner';
import { noopTaskMetrics, type TaskMetrics } from '../metrics.js';
import type { Outbox } from '../outbox.js';
import { ConcurrencyGuard } from './concurrency-guard.js';
import { FailureCooldown } from './failure-cooldown.js';
import type { NextBroker } from './next-broker.js';
import type { DropReason, RouteContext, RouteHandler } from './router.js';
import { Semaphore } from './semaphore.js';

/** Settings the dispatch handler reads (names as in WORKER.md). */
export type ExecDispatchConfig = Pick<
  Settings,
  | 'tenant'
  | 'handler_dispatch_timeout_seconds'
  | 'handler_dispatch_max_failures'
  | 'handler_dispatch_failure_cooldown_seconds'
  | 'concurrency_per_node_limits'
>;

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
}

type Answer =
  | { type: typeof FrameType.EXEC_RESULT; payload: ExecResultPayload }
  | { type: typeof FrameType.EXEC_ERROR; payload: ExecErrorPayload };

/**
 * What became of a dispatch. An answer keeps its frame id once sent, so a repeat goes out under
 * the same id and the scheduler can recognise it; `acked` tells whether it is still in flight.
 */
type Seen = { state: 'running' } | { state: 'answered'; answer: Answer; frameId?: string; acked: boolean };

/** Router drop reasons → the `details.reason` of the `E.RUNNER.CANCELLED` answer. */
const DROP_REASON: Record<DropReason, RefusalReasonValue> = {
  shutdown: RefusalReason.SHUTDOWN,
  queue_overflow: RefusalReason.OVERFLOW,
  cooldown: RefusalReason.COOLDOWN,
};

/**
 * Runs `biz.exec.dispatch` frames: each (`id`, `corr`) at most once, single
 * flight per `concurrency_key`, per-node-type limits, timeouts, cooldown
 * after consecutive failures, and exactly one `biz.exec.result` or
 * `biz.exec.error` for every dispatch it is given — including the ones it
 * refuses or that a queue drops.
 */
export class ExecDispatchHandler implements RouteHandler {
  readonly ownsTimeout = true;
  readonly #o: ExecDispatchHandlerOptions;
  readonly #log: Logger;
  readonly #metrics: TaskMetrics;
  readonly #seen = new Map<string, Seen>();
  readonly #guard = new ConcurrencyGuard();
  readonly #cooldown: FailureCooldown;
  readonly #nodeLimits = new Map<string, Semaphore>();
  readonly #remember: number;
  #running = 0;

  constructor(options: ExecDispatchHandlerOptions) {
    this.#o = options;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'dispatch' });
    this.#metrics = options.metrics ?? noopTaskMetrics;
    this.#remember = options.rememberAnswers ?? 10_000;
    this.#cooldown = new FailureCooldown(
      options.config.handler_dispatch_max_failures,
      options.config.handler_dispatch_failure_cooldown_seconds * 1000,
    );
    for (const [nodeType, limit] of Object.entries(options.config.concurrency_per_node_limits ?? {})) {
      this.#nodeLimits.set(nodeType, new Semaphore(limit));
    }
  }

  /** Dispatches admitted and not yet answered (queued or running). */
  get inflight(): number {
    return [...this.#seen.values()].filter((s) => s.state === 'running').length;
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
      this.#refuse(frame, RefusalReason.DRAINING, 'worker is draining and takes no new tasks', 'dispatch.admit');
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

  onDropped(frame: Frame, reason: DropReason): void {
    const message =
      reason === 'shutdown'
        ? 'worker shut down before the task started'
        : reason === 'cooldown'
          ? 'dispatch handler cooling down; task refused before it started'
          : 'dispatch queue full; task refused before it started';
    void this.#refuse(frame, DROP_REASON[reason], message, `dispatch.${reason}`);
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
    return this.#answerError(frame, ErrorCode.FRAME_INVALID, error.message, 'dispatch.validate');
  }

  async handle(frame: Frame, context: RouteContext): Promise<void> {
    const dispatch = frame.payload as ExecDispatchPayload;
    const handlerKey = `${dispatch.package_name}@${dispatch.package_version}:${dispatch.node_type}`;
    const cooling = this.#cooldown.remainingMs(handlerKey);
    if (cooling > 0) {
      await this.#refuse(
        frame,
        RefusalReason.COOLDOWN,
        `handler ${handlerKey} is cooling down after consecutive failures (${Math.ceil(cooling / 1000)} s left)`,
        'dispatch.cooldown',
        Math.ceil(cooling),
      );
      return;
    }
    const limit = this.#nodeLimits.get(dispatch.node_type);
    if (limit) await limit.acquire();
    const taskEnded = new AbortController();
    this.#running++;
    this.#metrics.taskStarted(dispatch.node_type);
    const started = performance.now();
    try {
      const outcome: RunOutcome = await this.#o.runner.run({
        dispatch,
        tenant: this.#o.config.tenant,
        signal: context.signal,
        ...(this.#timeoutMs(dispatch) ? { timeoutMs: this.#timeoutMs(dispatch) } : {}),
        emitFeedback: async (body) => {
          await this.#o.outbox.send(
            FrameType.EXEC_FEEDBACK,
            { run_id: dispatch.run_id, task_id: dispatch.task_id, ...body },
            { corr: dispatch.task_id },
          );
        },
        next: (call) => this.#o.next.request(dispatch, call, taskEnded.signal),
        logger: this.#log,
      }).catch((err: unknown): RunOutcome => {
        // The runner turns every failure into an outcome; should it break that promise, the scheduler still gets an answer.
        const error = AstraError.wrap(err, ErrorCode.INTERNAL);
        return {
          kind: 'error',
          payload: {
            code: error.code,
            message: error.message || 'runner failed',
            context: { where: 'dispatch.run', details: { run_id: dispatch.run_id, task_id: dispatch.task_id, node_id: dispatch.node_id } },
          },
        };
      });
      const failed = outcome.kind === 'error' || outcome.payload.status === 'FAILED';
      if (failed && this.#cooldown.recordFailure(handlerKey)) {
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
      await this.#finish(frame, answer);
    } finally {
      taskEnded.abort();
      this.#running--;
      limit?.release();
    }
  }

  #timeoutMs(dispatch: ExecDispatchPayload): number | undefined {
    const candidates = [dispatch.constraints.timeout_ms, this.#o.config.handler_dispatch_timeout_seconds * 1000].filter(
      (ms): ms is number => typeof ms === 'number' && ms > 0,
    );
    return candidates.length > 0 ? Math.min(...candidates) : undefined;
  }

  /**
   * Answers a dispatch that did not run and may run later or elsewhere. The scheduler retries
   * only `E.RUNNER.CANCELLED` (PROTOCOL.md §6), so the why goes into `details.reason`.
   */
  #refuse(frame: Frame, reason: RefusalReasonValue, message: string, where: string, retryAfterMs?: number): Promise<void> {
    return this.#answerError(frame, ErrorCode.RUNNER_CANCELLED, message, where, {
      reason,
      ...(retryAfterMs !== undefined && retryAfterMs > 0 ? { retry_after_ms: retryAfterMs } : {}),
    });
  }

  #answerError(frame: Frame, code: string, message: string, where: string, extra: Record<string, unknown> = {}): Promise<void> {
    const dispatch = frame.payload as Partial<ExecDispatchPayload>;
    const details = {
      ...Object.fromEntries(
        (['run_id', 'task_id', 'node_id'] as const)
          .filter((k) => typeof dispatch[k] === 'string')
          .map((k) => [k, dispatch[k]]),
      ),
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
    await this.#send(frame, record);
  }

  async #send(frame: Frame, record: Seen & { state: 'answered' }): Promise<void> {
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
      this.#log.error({ err, id: frame.id }, 'could not send the answer to a dispatch');
    }
  }
}

function dedupeKey(frame: Frame): string {
  return `${frame.id}\u0000${frame.corr ?? ''}`;
}
