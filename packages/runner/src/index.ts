/**
 * Runs AstraFlow node handlers, inline on the main event loop or in a
 * worker-thread pool, and turns what they return (or throw) into
 * `biz.exec.result` / `biz.exec.error` payloads.
 *
 * @example
 * ```ts
 * import { createRunner } from '@astraflow/runner';
 *
 * const runner = createRunner({ resolver: packageManager, dataDir: '/var/lib/astraflow/data' });
 * const outcome = await runner.run({
 *   dispatch,
 *   tenant: 'default',
 *   timeoutMs: 30_000,
 *   emitFeedback: (body) => session.send('biz.exec.feedback', { run_id, task_id, ...body }),
 *   next: (call) => middleware.request(call),
 * });
 * await session.send(outcome.kind === 'result' ? 'biz.exec.result' : 'biz.exec.error', outcome.payload);
 * await runner.close();
 * ```
 *
 * @packageDocumentation
 */
export { createRunner, resolveExecMode, FEEDBACK_FLUSH_TIMEOUT_MS } from './runner.js';
export { normalizeResult, normalizeStatus, type NormalizedResult } from './normalize-result.js';
export {
  FeedbackChannel,
  createFeedbackChannel,
  DEFAULT_MAX_CHUNKS_PER_FRAME,
  DEFAULT_MAX_PENDING_CHUNKS,
  type FeedbackChannelOptions,
} from './feedback-channel.js';
export { safePathSegment, taskDataDirPath } from './task-data-dir.js';
export {
  KEEP_MARKER,
  keepTaskDataDir,
  releaseTaskDataDir,
  sweepTaskDataDirs,
  type SweepResult,
} from './task-data-lifecycle.js';
export { toJsonValue } from './json-value.js';
export {
  createResourceRegistry,
  type FileResourceSpec,
  type HandlerResources,
  type ResourceCounts,
  type ResourceFilter,
  type ResourceHandle,
  type ResourceRegistry,
  type ResourceRegistryOptions,
  type ResourceSpec,
} from './resource-registry.js';
export type { HandlerLease, HandlerLoader, HandlerResolver, ResolvedHandler } from './handler-resolver.js';
export type {
  FeedbackBody,
  FeedbackChannelName,
  HandlerContext,
  HandlerFeedback,
  NextCall,
  NextOptions,
  RunOutcome,
  RunTask,
  Runner,
  RunnerFeedbackOptions,
  RunnerOptions,
  RunnerThreadOptions,
} from './types.js';
