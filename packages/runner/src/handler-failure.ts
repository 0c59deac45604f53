import { AstraError, ErrorCode, ProtocolErrorCode, errorMessage } from '@astraflow/protocol';

const PROTOCOL_CODES: ReadonlySet<string> = new Set(Object.values(ProtocolErrorCode));

/**
 * The error a handler failure is answered with: a handler's `AstraError`
 * keeps its code only when it is a protocol code (docs/protocol.md §7) the
 * scheduler understands; everything else is `E.RUNNER.FAILURE` with the
 * thrown message.
 */
export function handlerFailure(error: unknown): AstraError {
  const message = errorMessage(error) || 'handler failed';
  if (AstraError.isInstance(error) && PROTOCOL_CODES.has(error.code)) {
    return error.message === '' ? new AstraError(error.code, message, { cause: error }) : error;
  }
  return new AstraError(ErrorCode.RUNNER_FAILURE, message, { cause: error });
}

/** Same as {@link handlerFailure} for a `{code, message}` that crossed a thread boundary. */
export function handlerFailureFromWire(code: string, message: string): AstraError {
  return new AstraError(PROTOCOL_CODES.has(code) ? code : ErrorCode.RUNNER_FAILURE, message || 'handler failed');
}
