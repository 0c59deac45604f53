import type { AstraError } from '@astraflow/protocol';

/** `promise`, or a rejection with `timeoutError()` after `ms` (the promise itself cannot be cancelled). */
export function withTimeout<T>(promise: Promise<T>, ms: number, timeoutError: () => AstraError): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
