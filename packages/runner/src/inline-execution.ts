import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';
import type { Execution, ExecutionEnv, ExecutionResult } from './execution.js';
import { handlerFailure } from './handler-failure.js';
import { buildNextCall } from './next-call.js';
import { normalizeResult } from './normalize-result.js';
import { keepTaskDataDir } from './task-data-lifecycle.js';
import type { HandlerContext } from './types.js';

/**
 * Calls the handler on the main event loop. A handler that ignores
 * `ctx.signal` keeps running after an abort; `finished` waits for it, so the
 * package version stays leased until the code really stopped.
 */
export function startInline(env: ExecutionEnv): Execution {
  const { handler, feedback } = env;
  // ctx.signal is made when the handler first reads it (most never do); an abort before that
  // is remembered, so the signal it gets is already aborted with the same reason.
  let controller: AbortController | undefined;
  let abortedWith: { reason: AstraError } | undefined;
  const fn = handler.fn as ((ctx: HandlerContext) => unknown) | undefined;
  if (fn === undefined) {
    const error = new AstraError(ErrorCode.RUNNER_FAILURE, `${handler.nodeType} has no loaded handler`);
    return {
      result: Promise.resolve({ ok: false, stage: 'resolve', error }),
      started: Promise.resolve(),
      finished: Promise.resolve(),
      abort: () => {},
    };
  }
  const data = env.context;
  let feedbackView: HandlerContext['feedback'] | undefined;
  // Fields listed one by one (no spread) so every ctx shares one shape; the parts most handlers
  // never touch (folder, signal, feedback view) are made on first read.
  const ctx: HandlerContext = {
    runId: data.runId,
    taskId: data.taskId,
    nodeId: data.nodeId,
    nodeType: data.nodeType,
    packageName: data.packageName,
    packageVersion: data.packageVersion,
    params: data.params,
    tenant: data.tenant,
    get dataDir(): string {
      return env.dataDir.ensure();
    },
    hostNodeId: data.hostNodeId,
    middlewareChain: data.middlewareChain,
    chainIndex: data.chainIndex,
    metadata: data.metadata,
    resourceRefs: data.resourceRefs,
    leasedResources: data.leasedResources,
    workerName: data.workerName,
    get signal(): AbortSignal {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortedWith !== undefined) controller.abort(abortedWith.reason);
      }
      return controller.signal;
    },
    logger: env.logger,
    // Only the handler-facing methods: the handler must not flush or close its own channel.
    get feedback(): HandlerContext['feedback'] {
      feedbackView ??= {
        send: (body) => feedback.send(body),
        sendNowait: (body) => feedback.sendNowait(body),
        emitText: (text, channel) => feedback.emitText(text, channel),
      };
      return feedbackView;
    },
    next: async (payload, options) => env.next(buildNextCall(payload, options)),
    resources: env.resources,
    keepDataDir: () => keepTaskDataDir(env.dataDir.ensure()),
  };
  const running = new Promise<unknown>((resolve) => resolve(fn(ctx)));
  const result = running.then(
    (value): ExecutionResult => {
      try {
        return { ok: true, result: normalizeResult(value) };
      } catch (error) {
        return { ok: false, stage: 'result', error: AstraError.wrap(error, ErrorCode.RUNNER_FAILURE, errorMessage(error)) };
      }
    },
    (error: unknown): ExecutionResult => ({ ok: false, stage: 'handler', error: handlerFailure(error) }),
  );
  return {
    result,
    started: Promise.resolve(),
    finished: running.then(
      () => undefined,
      () => undefined,
    ),
    abort: (reason) => {
      abortedWith ??= { reason };
      controller?.abort(reason);
    },
  };
}
