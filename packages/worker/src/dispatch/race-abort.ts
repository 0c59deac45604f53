import { AstraError, ErrorCode } from '@astraflow/protocol';

/**
 * Settles with `work`, or rejects as soon as `signal` aborts: with its
 * reason when that is an `AstraError` (shutdown), else `E.TIMEOUT` (the
 * task timeout). The work itself goes on; the caller only stops waiting.
 */
export function raceAbort(work: Promise<void>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void =>
      reject(
        AstraError.isInstance(signal.reason)
          ? signal.reason
          : new AstraError(ErrorCode.TIMEOUT, 'handler exceeded handler_dispatch_timeout_seconds'),
      );
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
