/**
 * Longest delay Node's timers honour: 2^31 − 1 ms (about 24.8 days). Node
 * turns anything larger into 1 ms, so an unclamped `timeout_ms = 2^31` from
 * the wire would fire at once.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** {@link MAX_TIMER_MS} in whole seconds: the upper limit of every `*_seconds` duration setting. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/**
 * A delay safe to hand to `setTimeout`: finite, ≥ 0 and at most `max`
 * (default {@link MAX_TIMER_MS}, itself capped there). NaN and negative
 * values become 0; +Infinity becomes `max`.
 */
export function clampTimerMs(ms: number, max = MAX_TIMER_MS): number {
  const cap = Math.min(Math.max(0, max), MAX_TIMER_MS);
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(Math.floor(ms), cap);
}
