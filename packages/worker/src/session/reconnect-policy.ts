import { AstraError, ErrorCode, isAuthErrorCode, type FailureClass } from '@astraflow/protocol';

/** The failure class a connection attempt ended with (`network` unless the error says otherwise). */
export function failureOf(err: unknown): FailureClass {
  return ((AstraError.isInstance(err) ? err.details?.failure : undefined) as FailureClass | undefined) ?? 'network';
}

/**
 * The fatal error that ends the session instead of another reconnect, or
 * undefined to retry: an auth failure with `reconnect_abort_on_auth_error`,
 * a protocol failure with `reconnect_abort_on_protocol_error`.
 */
export function fatalFor(
  failure: FailureClass,
  cause: unknown,
  policy: { abortOnAuthError: boolean; abortOnProtocolError: boolean },
): AstraError | undefined {
  const text = cause instanceof Error ? cause.message : 'connection failed';
  if (failure === 'auth' && policy.abortOnAuthError) {
    const code = AstraError.isInstance(cause) && isAuthErrorCode(cause.code) ? cause.code : ErrorCode.AUTH_UNAUTHENTICATED;
    return new AstraError(code, `authentication failed, not retrying (reconnect_abort_on_auth_error): ${text}`, { cause });
  }
  if (failure === 'protocol' && policy.abortOnProtocolError) {
    return new AstraError(
      ErrorCode.TRANSPORT_FAILURE,
      `protocol error, not retrying (reconnect_abort_on_protocol_error): ${text}`,
      {
        cause,
        details: { failure },
      },
    );
  }
  return undefined;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Resolves on the emitter's next `ready`, rejects on its next `fatal` or
 * with `E.TIMEOUT` after `timeoutMs` (no limit when undefined).
 */
export function nextReady(
  emitter: {
    on(event: 'ready' | 'fatal', listener: (arg: never) => void): unknown;
    off(event: 'ready' | 'fatal', listener: (arg: never) => void): unknown;
  },
  timeoutMs: number | undefined,
  describe: () => string,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            cleanup();
            reject(new AstraError(ErrorCode.TIMEOUT, `session not ready within ${timeoutMs} ms (${describe()})`));
          }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onFatal = (err: AstraError): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      emitter.off('ready', onReady);
      emitter.off('fatal', onFatal as (arg: never) => void);
    };
    emitter.on('ready', onReady);
    emitter.on('fatal', onFatal as (arg: never) => void);
  });
}
