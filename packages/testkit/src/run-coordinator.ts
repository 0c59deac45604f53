import { ErrorCode, type ExecDispatchPayload, type Frame } from '@astraflow/protocol';
import type { ReferenceScheduler } from './reference-scheduler.js';

/** Options of {@link createRunCoordinator}. */
export interface RunCoordinatorOptions {
  /**
   * The fleet: one reference scheduler per worker (each plays the scheduler for one worker
   * connection). A task refused with `E.RUNNER.CANCELLED` moves on to the next one whose
   * session is ready.
   */
  schedulers: readonly ReferenceScheduler[];
  /** Dispatches of one task at most (the first included) before the node counts as failed. Default 20. */
  maxAttempts?: number;
  /** Pause before a re-dispatch that names no `retry_after_ms`. Default 20. */
  retryDelayMs?: number;
  /** Cap of an honoured `retry_after_ms`, so a test never sleeps for long. Default 2000. */
  maxRetryDelayMs?: number;
  /** The scheduler's own timeout of one dispatch without an answer. Default 30 000. */
  answerTimeoutMs?: number;
}

/** One dispatch of a task and the worker's answer to it. */
export interface TaskAttempt {
  /** Index of the scheduler (so of the worker) in {@link RunCoordinatorOptions.schedulers}. */
  scheduler: number;
  /** Envelope id of the dispatch. */
  dispatchId: string;
  /** The `biz.exec.result` / `biz.exec.error`; undefined when the scheduler's own timeout ran out. */
  answer: Frame | undefined;
}

/**
 * What the scheduler recorded for a node: the result's status; `IGNORED` for an
 * `E.CMD.CONCURRENCY_VIOLATION` (the duplicate is dropped, the task already in flight stands);
 * `FAILED` for a command error or when no answer came.
 */
export type NodeStatus = 'SUCCEEDED' | 'FAILED' | 'SKIPPED' | 'CANCELLED' | 'IGNORED';

/** The fate of one task, as a user would see it in the run. */
export interface TaskReport {
  taskId: string;
  status: NodeStatus;
  /** True when this node fails the user's run. */
  failed: boolean;
  /** Every dispatch, in order; more than one when the worker refused with `E.RUNNER.CANCELLED`. */
  attempts: TaskAttempt[];
  /** The code that failed the node (`E.*` of the error; `timeout` without an answer). */
  failureCode?: string;
}

/** The fate of a run. */
export interface RunReport {
  /** True when any node failed (the existing scheduler then fails the whole run). */
  failed: boolean;
  tasks: TaskReport[];
  /** Dispatches sent again after an `E.RUNNER.CANCELLED`. */
  redispatches: number;
}

/** Plays the existing scheduler's run logic over a fleet of reference schedulers. */
export interface RunCoordinator {
  /** Dispatches one task until the scheduler records an outcome for it. `first` picks the worker of the first try. */
  runTask(payload: ExecDispatchPayload, options?: { first?: number }): Promise<TaskReport>;
  /** Runs every task at once (round robin over the fleet) and reports the run. */
  run(payloads: readonly ExecDispatchPayload[]): Promise<RunReport>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Reproduces what the existing AstraFlow scheduler does with each answer
 * (docs/protocol.md §6, "What the existing scheduler does with an answer"):
 * a `biz.exec.result` records the node's outcome; `E.RUNNER.CANCELLED` resets
 * the node and dispatches it again (here: to the next worker of the fleet, after
 * `retry_after_ms` when given); `E.CMD.CONCURRENCY_VIOLATION` is ignored in
 * favour of the task already in flight; any other code fails the node and so
 * the run. Tests use it to show what a user would see in a run.
 *
 * @example
 * ```ts
 * const runs = createRunCoordinator({ schedulers: [a, b] });
 * const report = await runs.run(tasks);
 * expect(report.failed).toBe(false);
 * ```
 */
export function createRunCoordinator(options: RunCoordinatorOptions): RunCoordinator {
  const fleet = options.schedulers;
  if (fleet.length === 0) throw new RangeError('createRunCoordinator: schedulers must not be empty');
  const maxAttempts = Math.max(1, options.maxAttempts ?? 20);
  const retryDelayMs = Math.max(0, options.retryDelayMs ?? 20);
  const maxRetryDelayMs = Math.max(0, options.maxRetryDelayMs ?? 2000);
  const answerTimeoutMs = Math.max(1, options.answerTimeoutMs ?? 30_000);
  let next = 0;

  /** From `start` on, the first scheduler whose worker has a ready session (waits for one, bounded). */
  async function pick(start: number): Promise<number> {
    const deadline = Date.now() + answerTimeoutMs;
    for (;;) {
      for (let k = 0; k < fleet.length; k++) {
        const index = (start + k) % fleet.length;
        if (fleet[index]?.state.phase === 'ready') return index;
      }
      if (Date.now() > deadline) return start % fleet.length;
      await sleep(10);
    }
  }

  async function runTask(payload: ExecDispatchPayload, runOptions: { first?: number } = {}): Promise<TaskReport> {
    const attempts: TaskAttempt[] = [];
    let target = runOptions.first ?? next++;
    for (;;) {
      const index = await pick(target);
      const scheduler = fleet[index] as ReferenceScheduler;
      const handle = scheduler.dispatch(payload, { timeoutMs: answerTimeoutMs });
      const answer = await handle.done.catch(() => undefined);
      attempts.push({ scheduler: index, dispatchId: handle.id, answer });
      const report = (status: NodeStatus, failureCode?: string): TaskReport => ({
        taskId: payload.task_id,
        status,
        failed: status === 'FAILED',
        attempts,
        ...(failureCode !== undefined ? { failureCode } : {}),
      });
      if (answer === undefined) return report('FAILED', 'timeout');
      if (answer.type === 'biz.exec.result') return report((answer.payload as { status: NodeStatus }).status);
      const error = answer.payload as { code: string; context?: { details?: { retry_after_ms?: unknown } } };
      if (error.code === ErrorCode.CMD_CONCURRENCY_VIOLATION) return report('IGNORED');
      if (error.code !== ErrorCode.RUNNER_CANCELLED) return report('FAILED', error.code);
      if (attempts.length >= maxAttempts) return report('FAILED', `${error.code} after ${attempts.length} attempts`);
      const retryAfter = error.context?.details?.retry_after_ms;
      const delay = typeof retryAfter === 'number' && retryAfter > 0 ? Math.min(retryAfter, maxRetryDelayMs) : retryDelayMs;
      // The retry goes to the next worker at once; once every worker of the fleet refused in turn, honour the delay.
      await sleep(attempts.length % fleet.length === 0 ? delay : Math.min(delay, retryDelayMs));
      target = index + 1;
    }
  }

  return {
    runTask,
    async run(payloads) {
      const tasks = await Promise.all(payloads.map((payload) => runTask(payload)));
      return {
        failed: tasks.some((t) => t.failed),
        tasks,
        redispatches: tasks.reduce((sum, t) => sum + t.attempts.length - 1, 0),
      };
    },
  };
}
