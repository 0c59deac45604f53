import type { AstraError, Logger } from '@astraflow/protocol';
import type { ResolvedHandler } from './handler-resolver.js';
import type { TaskDataDir } from './task-data-dir.js';
import type { TaskFeedback } from './lazy-feedback.js';
import type { NormalizedResult } from './normalize-result.js';
import type { HandlerResources } from './resource-registry.js';
import type { HandlerContext, NextCall } from './types.js';

/** Where a task failed; becomes `context.where = runner.<stage>`. */
export type FailureStage = 'resolve' | 'prepare' | 'queue' | 'handler' | 'result' | 'timeout' | 'cancel';

/** How one handler invocation ended. */
export type ExecutionResult = { ok: true; result: NormalizedResult } | { ok: false; stage: FailureStage; error: AstraError };

/** One running handler, inline or in a thread. */
export interface Execution {
  /** Settles with the outcome; never rejects. */
  readonly result: Promise<ExecutionResult>;
  /** Resolves when the handler begins (inline: at once; thread: when a thread takes the task from the pool queue). */
  readonly started: Promise<void>;
  /** Resolves once the handler has really stopped (its promise settled, or its thread ended); never rejects. */
  readonly finished: Promise<void>;
  /** Fires `ctx.signal` with `reason`; a thread that does not stop in time is terminated. */
  abort(reason: AstraError): void;
}

/** The plain-data part of {@link HandlerContext}. */
export type ContextData = Omit<HandlerContext, 'signal' | 'logger' | 'feedback' | 'next' | 'resources' | 'keepDataDir'>;

/** What both execution modes need to run one handler. */
export interface ExecutionEnv {
  handler: ResolvedHandler;
  /** `context.dataDir` is the path; `ctx.dataDir` creates the folder on first read through {@link ExecutionEnv.dataDir}. */
  context: ContextData;
  dataDir: TaskDataDir;
  logger: Logger;
  feedback: TaskFeedback;
  next(call: NextCall): Promise<Record<string, unknown>>;
  resources: HandlerResources;
}
