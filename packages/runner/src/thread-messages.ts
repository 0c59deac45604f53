import type { MessagePort } from 'node:worker_threads';
import { AstraError, errorMessage } from '@astraflow/protocol';
import type { LogLevel } from '@astraflow/protocol';
import type { NormalizedResult } from './normalize-result.js';
import type { FeedbackBody, FeedbackChannelName, HandlerContext, NextCall } from './types.js';

/** JSON-safe error as it crosses the thread boundary. */
export interface WireError {
  code: string;
  message: string;
}

/** The context fields a thread needs to rebuild `ctx` (the callable parts are bridged over the port). */
export type ThreadContextData = Omit<HandlerContext, 'signal' | 'logger' | 'feedback' | 'next' | 'resources' | 'keepDataDir'> & {
  /** Levels the main-thread logger would write, so the thread skips posting the others. */
  logLevels: LogLevel[];
};

/** What the pool hands a thread for one task. */
export interface ThreadTask {
  modulePath: string;
  exportName: string | undefined;
  handlerName: string;
  /** `RegisteredHandler.cacheKey`: identifies the installation, so a re-install is loaded afresh. */
  cacheKey: string | undefined;
  packageRoot: string;
  /** `ResolvedHandler.loaderUrl`: the module whose `loadHandler` the thread uses. */
  loaderUrl: string;
  context: ThreadContextData;
  /** The thread's end of the task's bridge; transferred. */
  port: MessagePort;
}

/** Where a handler's module lives: enough to load it inside a thread. */
export type ThreadHandlerRef = Pick<
  ThreadTask,
  'modulePath' | 'exportName' | 'handlerName' | 'cacheKey' | 'packageRoot' | 'loaderUrl'
>;

/** Loads handler modules into a thread ahead of its first task (pool pre-warm); replies `{"warmed": n}`. */
export interface WarmTask {
  warm: ThreadHandlerRef[];
}

/** Where a thread-side failure happened, mirrored into `context.where`. */
export type ThreadFailureStage = 'resolve' | 'handler' | 'result';

/** What a thread returns (as a JSON string, so JSON problems surface in the thread). */
export type ThreadReply = { ok: true; result: NormalizedResult } | { ok: false; stage: ThreadFailureStage; error: WireError };

/** Thread → main messages. `started`: a thread picked the task up, so its time in the pool queue is over; `data-dir`: the task's data folder was made. */
export type ThreadToMain =
  | { t: 'started' }
  | { t: 'data-dir' }
  | { t: 'feedback'; body: FeedbackBody; id?: number }
  | { t: 'text'; text: string; channel: FeedbackChannelName }
  | { t: 'log'; level: LogLevel; bindings: Record<string, unknown>; fields?: Record<string, unknown>; msg?: string }
  | { t: 'next'; id: number; call: NextCall }
  | { t: 'resources'; id: number; method: ResourceMethod; args: unknown[] };

/** The `ctx.resources` methods a thread may call (served on the main thread). */
export const RESOURCE_METHODS = ['register', 'registerFile', 'lease', 'release', 'list', 'releaseScope'] as const;

/** One of {@link RESOURCE_METHODS}. */
export type ResourceMethod = (typeof RESOURCE_METHODS)[number];

/** Main → thread messages. */
export type MainToThread =
  | { t: 'feedback-done'; id: number; error?: WireError }
  | { t: 'next-done'; id: number; result?: Record<string, unknown>; error?: WireError }
  | { t: 'resources-done'; id: number; result?: unknown; error?: WireError }
  | { t: 'abort'; reason: WireError };

/**
 * The wire view of any thrown value: an `AstraError` keeps its code, anything
 * else gets `fallbackCode`; the message is never empty.
 */
export function toWireError(error: unknown, fallbackCode: string): WireError {
  const code = AstraError.isInstance(error) ? error.code : fallbackCode;
  const message = errorMessage(error);
  return { code, message: message === '' ? code : message };
}
