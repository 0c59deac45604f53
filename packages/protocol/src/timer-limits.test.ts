import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, MAX_TIMER_SECONDS, clampTimerMs } from './timer-limits.js';

describe('clampTimerMs', () => {
  it('caps values Node would turn into a 1 ms timer', () => {
    expect(clampTimerMs(2 ** 31)).toBe(MAX_TIMER_MS);
    expect(clampTimerMs(2e9 * 1000)).toBe(MAX_TIMER_MS);
    expect(clampTimerMs(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_MS);
  });

  it('honours a lower cap, but never one above the Node limit', () => {
    expect(clampTimerMs(2e9, 600_000)).toBe(600_000);
    expect(clampTimerMs(2 ** 40, 2 ** 40)).toBe(MAX_TIMER_MS);
  });

  it('keeps ordinary delays and turns NaN and negatives into 0', () => {
    expect(clampTimerMs(1500.7)).toBe(1500);
    expect(clampTimerMs(Number.NaN)).toBe(0);
    expect(clampTimerMs(-5)).toBe(0);
    expect(MAX_TIMER_SECONDS * 1000).toBeLessThanOrEqual(MAX_TIMER_MS);
  });
});
