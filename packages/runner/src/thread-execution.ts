import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';
import type { Logger } from '@astraflow/protocol';
import type { Execution, ExecutionEnv, ExecutionResult } from './execution.js';
import { handlerFailureFromWire } from './handler-failure.js';
import { enabledLevels } from './port-logger.js';
import type { ThreadPool } from './thread-pool.js';
import { RESOURCE_METHODS, toWireError } from './thread-messages.js';
import type { MainToThread, ThreadReply, ThreadToMain } from './thread-messages.js';

/** How long a thread may keep running after `ctx.signal` fired before it is terminated. */
export const THREAD_ABORT_GRACE_MS = 1000;

function parseReply(json: string): ExecutionResult {
  let reply: ThreadReply;
  try {
    reply = JSON.parse(json) as ThreadReply;
  } catch (error) {
    return {
      ok: false,
      stage: 'result',
      error: new AstraError(ErrorCode.RUNNER_FAILURE, `unreadable reply from the worker thread: ${errorMessage(error)}`),
    };
  }
  if (reply.ok) return { ok: true, result: reply.result };
  const error =
    reply.stage === 'handler'
      ? handlerFailureFromWire(reply.error.code, reply.error.message)
      : new AstraError(ErrorCode.RUNNER_FAILURE, reply.error.message || ErrorCode.RUNNER_FAILURE);
  return { ok: false, stage: reply.stage, error };
}

function writeLog(logger: Logger, message: Extract<ThreadToMain, { t: 'log' }>): void {
  const target = Object.keys(message.bindings).length > 0 ? logger.child(message.bindings) : logger;
  if (message.fields !== undefined) target[message.level](message.fields, message.msg);
  else target[message.level](message.msg ?? '');
}

/**
 * Runs the handler in the pool. The thread loads it again from
 * `modulePath`; its feedback, logs and `next` calls arrive over a
 * MessagePort and are served here. On abort the thread first gets an
 * `abort` message (its `ctx.signal` fires); if it is still running
 * {@link THREAD_ABORT_GRACE_MS} later (a busy loop never reads messages),
 * piscina terminates the thread.
 */
export function startThread(env: ExecutionEnv, pool: ThreadPool, graceMs = THREAD_ABORT_GRACE_MS): Execution {
  const { handler, feedback, logger } = env;
  const { port1, port2 } = new MessageChannel();
  const kill = new AbortController();
  let abortReason: AstraError | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let portOpen = true;
  let hasStarted = false;
  let onStarted!: () => void;
  const started = new Promise<void>((resolve) => (onStarted = resolve));

  const post = (message: MainToThread): void => {
    if (portOpen) port1.postMessage(message);
  };

  const handle = (message: ThreadToMain): void => {
    try {
      switch (message.t) {
        case 'started':
          hasStarted = true;
          onStarted();
          break;
        case 'data-dir':
          env.dataDir.markCreated();
          break;
        case 'feedback':
          if (message.id === undefined) {
            feedback.sendNowait(message.body);
          } else {
            const id = message.id;
            feedback.send(message.body).then(
              () => post({ t: 'feedback-done', id }),
              (error: unknown) => post({ t: 'feedback-done', id, error: toWireError(error, ErrorCode.RUNNER_FAILURE) }),
            );
          }
          break;
        case 'text':
          feedback.emitText(message.text, message.channel);
          break;
        case 'log':
          writeLog(logger, message);
          break;
        case 'next': {
          const id = message.id;
          env.next(message.call).then(
            (result) => post({ t: 'next-done', id, result }),
            (error: unknown) => post({ t: 'next-done', id, error: toWireError(error, ErrorCode.RUNNER_FAILURE) }),
          );
          break;
        }
        case 'resources': {
          const id = message.id;
          const done = (result: unknown): void => post({ t: 'resources-done', id, result });
          const failed = (error: unknown): void =>
            post({ t: 'resources-done', id, error: toWireError(error, ErrorCode.RUNNER_FAILURE) });
          if (!(RESOURCE_METHODS as readonly string[]).includes(message.method) || !Array.isArray(message.args)) {
            failed(new AstraError(ErrorCode.RUNNER_FAILURE, `ctx.resources has no method ${String(message.method)}`));
            break;
          }
          const call = env.resources[message.method] as (...args: unknown[]) => Promise<unknown>;
          Promise.resolve()
            .then(() => call(...message.args))
            .then(done, failed);
          break;
        }
      }
    } catch (error) {
      // The thread validated the message already; a failure here is ours, not the handler's.
      logger.warn({ err: error, message_type: message.t }, 'cannot serve a message from the handler thread');
    }
  };

  port1.on('message', handle);
  // Messages the thread posted before returning may still be queued; take them in order before the result is used.
  const drain = (): void => {
    for (let entry = receiveMessageOnPort(port1); entry !== undefined; entry = receiveMessageOnPort(port1)) {
      handle(entry.message as ThreadToMain);
    }
  };

  const context = { ...env.context, logLevels: enabledLevels(logger) };
  const run = pool.run(
    {
      modulePath: handler.modulePath,
      exportName: handler.exportName,
      handlerName: handler.handlerName,
      cacheKey: handler.cacheKey,
      packageRoot: handler.packageRoot,
      loaderUrl: handler.loaderUrl,
      context,
      port: port2,
    },
    kill.signal,
  );

  const result = run.then(
    (json): ExecutionResult => {
      drain();
      return parseReply(json);
    },
    (error: unknown): ExecutionResult => {
      drain();
      if (abortReason !== undefined) return { ok: false, stage: 'cancel', error: abortReason };
      if (pool.closed) {
        return {
          ok: false,
          stage: 'cancel',
          error: new AstraError(ErrorCode.RUNNER_CANCELLED, 'the runner closed while the handler was running', { cause: error }),
        };
      }
      return {
        ok: false,
        stage: 'handler',
        error: new AstraError(ErrorCode.RUNNER_FAILURE, `the handler thread failed: ${errorMessage(error)}`, { cause: error }),
      };
    },
  );

  const finished = result.then(() => {
    clearTimeout(killTimer);
    portOpen = false;
    port1.close();
  });

  return {
    result,
    started,
    finished,
    abort(reason) {
      if (abortReason !== undefined) return;
      abortReason = reason;
      if (!hasStarted) {
        // Still in the pool queue: withdraw it before a thread picks it up.
        kill.abort(reason);
        return;
      }
      post({ t: 'abort', reason: toWireError(reason, ErrorCode.RUNNER_CANCELLED) });
      killTimer = setTimeout(() => kill.abort(reason), graceMs);
    },
  };
}
