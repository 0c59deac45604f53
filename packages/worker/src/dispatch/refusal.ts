import { ErrorCode, RefusalReason, type RefusalReasonValue } from '@astraflow/protocol';
import type { DropReason } from './router.js';

/** Why a queue dropped a frame → the `details.reason` of the refusal that answers it. */
export const dropRefusalReason: Readonly<Record<DropReason, RefusalReasonValue>> = {
  shutdown: RefusalReason.SHUTDOWN,
  queue_overflow: RefusalReason.OVERFLOW,
  cooldown: RefusalReason.COOLDOWN,
  overloaded: RefusalReason.OVERLOADED,
};

/** A refusal of a task that did not run and may run later or elsewhere. */
export interface Refusal {
  /** Why the task was refused (`context.details.reason`). */
  reason: RefusalReasonValue;
  message: string;
  /** When the worker knows how long the scheduler should wait before offering it work again. */
  retryAfterMs?: number;
}

/**
 * The code and extra `details` of a refusal. The only code the real
 * scheduler retries is `E.RUNNER.CANCELLED`, so every refusal uses it and says
 * why in `details.reason`.
 */
export function refusalDetails(refusal: Refusal): { code: string; details: Record<string, unknown> } {
  const details: Record<string, unknown> = { reason: refusal.reason };
  if (refusal.retryAfterMs !== undefined) details.retry_after_ms = Math.max(0, Math.round(refusal.retryAfterMs));
  return { code: ErrorCode.RUNNER_CANCELLED, details };
}
