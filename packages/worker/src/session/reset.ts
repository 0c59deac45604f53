import { AstraError, isAuthErrorCode, type FailureClass, type ResetPayload } from '@astraflow/protocol';
import { retryAfterDelayMs } from './backoff.js';

/** What a `control.reset` means for the reconnect loop. */
export interface ResetOutcome {
  /** The failure the loop reports (classified `auth` or `network`). */
  error: AstraError;
  /** Delay before the next attempt, when the reset dictates one (undefined = the usual backoff). */
  retryAfterMs: number | undefined;
  /** True when a refused resume makes the next attempt a fresh handshake at once. */
  handshakeAtOnce: boolean;
}

/**
 * Reads a `control.reset` (docs/protocol.md §4): its `retry_after_ms`,
 * clamped; or, when it refuses a resume with an `E.SESSION.*` code, no wait
 * at all — the scheduler no longer knows the session (it restarted),
 * nothing is wrong with the link, and the next attempt is a handshake, so
 * this cannot spin. `reason` must already be scrubbed of secrets.
 */
export function readReset(
  reset: ResetPayload,
  reason: string,
  context: { resuming: boolean; reconnectMaxSeconds: number },
): ResetOutcome {
  let retryAfterMs: number | undefined;
  let handshakeAtOnce = false;
  if (typeof reset.retry_after_ms === 'number') {
    retryAfterMs = retryAfterDelayMs(reset.retry_after_ms, context.reconnectMaxSeconds);
  } else if (context.resuming && reset.code.startsWith('E.SESSION.')) {
    retryAfterMs = 0;
    handshakeAtOnce = true;
  }
  const failure: FailureClass = isAuthErrorCode(reset.code) ? 'auth' : 'network';
  const error = new AstraError(reset.code, `session reset by scheduler: ${reset.code} ${reason}`, { details: { failure } });
  return { error, retryAfterMs, handshakeAtOnce };
}
