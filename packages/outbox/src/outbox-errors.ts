import { AstraError } from '@astraflow/protocol';

/** Codes of outbox failures (local to the worker, never sent on the wire). */
export const OutboxErrorCode = {
  /** A write would take the store past its size bound. */
  FULL: 'E.OUTBOX.FULL',
  /** The disk refused a write or a flush (ENOSPC, EIO, EROFS, ...), or the store is closed. */
  IO: 'E.OUTBOX.IO',
} as const;

/** Wraps a file-system failure as `E.OUTBOX.IO`, keeping its errno code in `details.errno`. */
export function ioError(what: string, cause: unknown): AstraError {
  const errno = typeof (cause as { code?: unknown })?.code === 'string' ? (cause as { code: string }).code : undefined;
  const text = cause instanceof Error ? cause.message : String(cause);
  return new AstraError(OutboxErrorCode.IO, `outbox ${what} failed: ${text}`, {
    cause,
    details: errno === undefined ? {} : { errno },
  });
}
