import { clampTimerMs } from '@astraflow/protocol';

/**
 * Reconnect delay of docs/protocol.md §4:
 * `min(max, base·2^(attempt−1)) · uniform(1−j, 1+j)`, never below 0.1 s.
 * `attempt` counts from 1. `random` is injectable for tests.
 */
export function reconnectDelayMs(
  attempt: number,
  options: { baseSeconds: number; maxSeconds: number; jitter: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(options.maxSeconds, options.baseSeconds * 2 ** Math.max(0, attempt - 1));
  const factor = 1 - options.jitter + random() * 2 * options.jitter;
  return clampTimerMs(Math.max(100, Math.round(exp * factor * 1000)));
}

/** Retransmission delay of docs/protocol.md §5: `base·2^attempt`, capped at `max` (attempt counts from 0). */
export function retransmitDelayMs(attempt: number, options: { baseMs: number; maxMs: number }): number {
  return clampTimerMs(Math.min(options.maxMs, options.baseMs * 2 ** attempt));
}

/** Heartbeat delay: interval + uniform(0, jitter), in ms. */
export function heartbeatDelayMs(
  options: { intervalSeconds: number; jitterSeconds: number },
  random: () => number = Math.random,
): number {
  return clampTimerMs(Math.round((options.intervalSeconds + random() * options.jitterSeconds) * 1000));
}

/**
 * Longest `retry_after_ms` of a `control.reset` honoured: 10 minutes, or
 * `reconnect_max_delay_seconds` when that is longer. A scheduler asking for
 * 2e9 ms must not keep the worker offline for 23 days.
 */
export const RETRY_AFTER_MAX_MS = 600_000;

/** The reconnect delay for a reset's `retry_after_ms`, clamped to {@link RETRY_AFTER_MAX_MS} (or the reconnect cap, if longer). */
export function retryAfterDelayMs(retryAfterMs: number, reconnectMaxSeconds: number): number {
  return clampTimerMs(retryAfterMs, Math.max(RETRY_AFTER_MAX_MS, reconnectMaxSeconds * 1000));
}
