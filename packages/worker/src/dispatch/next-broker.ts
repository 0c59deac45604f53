import { randomUUID } from 'node:crypto';
import {
  AstraError,
  ErrorCode,
  FrameType,
  clampTimerMs,
  createNoopLogger,
  type ExecDispatchPayload,
  type ExecNextResponsePayload,
  type Frame,
  type Logger,
} from '@astraflow/protocol';
import type { NextCall } from '@astraflow/runner';
import type { Outbox } from '../outbox.js';

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: AstraError): void;
}

/**
 * Middleware `next` calls (docs/protocol.md §6): sends `biz.exec.next.request`
 * and settles the call with the `biz.exec.next.response` carrying the same
 * `requestId` — or fails it on an error response, its timeout, the end of
 * the task (`signal`) or a lost session ({@link NextBroker.failAll}).
 */
export class NextBroker {
  readonly #pending = new Map<string, Pending>();
  readonly #log: Logger;

  constructor(
    private readonly outbox: Outbox,
    logger: Logger = createNoopLogger(),
  ) {
    this.#log = logger.child({ component: 'next' });
  }

  get pending(): number {
    return this.#pending.size;
  }

  request(dispatch: ExecDispatchPayload, call: NextCall, signal: AbortSignal): Promise<Record<string, unknown>> {
    const requestId = randomUUID();
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        this.#pending.delete(requestId);
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        settle();
        reject(new AstraError(ErrorCode.RUNNER_CANCELLED, `next call ${requestId} abandoned: task ended`));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      if (call.timeoutMs !== undefined) {
        // Handler-supplied: clamped, or a huge value would fire after 1 ms.
        timer = setTimeout(() => {
          settle();
          reject(new AstraError(ErrorCode.TIMEOUT, `next call ${requestId} got no response within ${call.timeoutMs} ms`));
        }, clampTimerMs(call.timeoutMs));
      }
      this.#pending.set(requestId, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.outbox
        .send(
          FrameType.EXEC_NEXT_REQUEST,
          {
            requestId,
            runId: dispatch.run_id,
            nodeId: dispatch.node_id,
            middlewareId: dispatch.node_id,
            ...(dispatch.chain_index !== undefined ? { chainIndex: dispatch.chain_index } : {}),
            ...(call.hostCtx ? { hostCtx: call.hostCtx } : {}),
            ...(call.middlewareCtx ? { middlewareCtx: call.middlewareCtx } : {}),
            payload: call.payload,
            ...(call.timeoutMs !== undefined ? { timeoutMs: call.timeoutMs } : {}),
          },
          { corr: requestId, ackRequest: true },
        )
        .catch((err: unknown) => this.#pending.get(requestId)?.reject(AstraError.wrap(err, ErrorCode.INTERNAL)));
    });
  }

  /** Settles the call a `biz.exec.next.response` answers; unknown ids are logged and ignored. */
  handleResponse(frame: Frame<'biz.exec.next.response'>): void {
    const response: ExecNextResponsePayload = frame.payload;
    const pending = this.#pending.get(response.requestId);
    if (!pending) {
      // Also the path of a retransmitted copy of a response already settled.
      this.#log.debug({ requestId: response.requestId }, 'next response for an unknown or finished call ignored');
      return;
    }
    if (response.error) {
      const code = typeof response.error.code === 'string' ? response.error.code : ErrorCode.RUNNER_FAILURE;
      const message = typeof response.error.message === 'string' ? response.error.message : 'next call failed downstream';
      pending.reject(new AstraError(code, message, { details: response.error }));
    } else {
      pending.resolve(response.result ?? {});
    }
  }

  /** Fails every pending call (the session was lost or the worker stops). */
  failAll(reason: AstraError): void {
    for (const pending of [...this.#pending.values()]) pending.reject(reason);
  }
}
