import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_MAX_MS, heartbeatDelayMs, reconnectDelayMs, retransmitDelayMs, retryAfterDelayMs } from './backoff.js';

describe('backoff', () => {
  const opts = { baseSeconds: 1, maxSeconds: 30, jitter: 0.2 };

  it('doubles the reconnect delay per attempt up to the cap', () => {
    const mid = () => 0.5; // factor exactly 1
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => reconnectDelayMs(a, opts, mid))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });

  it('applies jitter within 1±j and never goes below 100 ms', () => {
    expect(reconnectDelayMs(1, opts, () => 0)).toBe(800);
    expect(reconnectDelayMs(1, opts, () => 1)).toBe(1200);
    expect(reconnectDelayMs(1, { baseSeconds: 0.01, maxSeconds: 1, jitter: 0 }, () => 0.5)).toBe(100);
  });

  it('retransmits after base·2^attempt capped at max', () => {
    expect([0, 1, 2, 3, 4, 5].map((a) => retransmitDelayMs(a, { baseMs: 200, maxMs: 5000 }))).toEqual([
      200, 400, 800, 1600, 3200, 5000,
    ]);
  });

  it('adds uniform jitter to the heartbeat interval', () => {
    expect(heartbeatDelayMs({ intervalSeconds: 30, jitterSeconds: 5 }, () => 0)).toBe(30000);
    expect(heartbeatDelayMs({ intervalSeconds: 30, jitterSeconds: 5 }, () => 1)).toBe(35000);
  });
});

describe('retryAfterDelayMs', () => {
  it('caps a scheduler retry_after_ms at 10 minutes, or the reconnect cap when longer', () => {
    expect(retryAfterDelayMs(2e9, 30)).toBe(RETRY_AFTER_MAX_MS);
    expect(retryAfterDelayMs(2e9, 3600)).toBe(3_600_000);
    expect(retryAfterDelayMs(1500, 30)).toBe(1500);
    expect(retryAfterDelayMs(-1, 30)).toBe(0);
  });
});
