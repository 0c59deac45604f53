import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';
import type { Execution, ExecutionEnv, ExecutionResult } from './execution.js';
import { createHandlerContext } from './handler-context.js';
import { handlerFailure } from './handler-failure.js';
import { buildNextCall } from './next-call.js';
import { normalizeResult } from './normalize-result.js';
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
  let feedbackView: HandlerContext['feedback'] | undefined;
  const ctx = createHandlerContext(env.context, {
    dataDir: env.dataDir,
    signal: () => {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortedWith !== undefined) controller.abort(abortedWith.reason);
      }
      return controller.signal;
    },
    logger: env.logger,
    // Only the handler-facing methods: the handler must not flush or close its own channel.
    feedback: () => {
      feedbackView ??= {
        send: (body) => feedback.send(body),
        sendNowait: (body) => feedback.sendNowait(body),
        emitText: (text, channel) => feedback.emitText(text, channel),
      };
      return feedbackView;
    },
    next: async (payload, options) => env.next(buildNextCall(payload, options)),
    resources: env.resources,
  });
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
