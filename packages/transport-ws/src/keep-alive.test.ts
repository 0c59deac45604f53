import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeepAlive } from './keep-alive.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function harness(intervalMs: number): { keepAlive: KeepAlive; pings: () => number; timeouts: () => number } {
  let pings = 0;
  let timeouts = 0;
  const keepAlive = new KeepAlive(intervalMs, {
    ping: () => {
      pings += 1;
    },
    onTimeout: () => {
      timeouts += 1;
    },
  });
  return { keepAlive, pings: () => pings, timeouts: () => timeouts };
}

describe('KeepAlive', () => {
  it('pings every interval while the peer shows signs of life', () => {
    const h = harness(100);
    h.keepAlive.start();
    for (let i = 0; i < 5; i += 1) {
      vi.advanceTimersByTime(100);
      h.keepAlive.markAlive();
    }
    expect(h.pings()).toBe(5);
    expect(h.timeouts()).toBe(0);
    h.keepAlive.stop();
  });

  it('times out on the tick after an unanswered ping, once', () => {
    const h = harness(100);
    h.keepAlive.start();
    vi.advanceTimersByTime(100);
    expect(h.pings()).toBe(1);
    vi.advanceTimersByTime(100);
    expect(h.timeouts()).toBe(1);
    vi.advanceTimersByTime(1000);
    expect(h.timeouts()).toBe(1);
    expect(h.pings()).toBe(1);
  });

  it('does nothing when the interval is 0', () => {
    const h = harness(0);
    h.keepAlive.start();
    vi.advanceTimersByTime(10_000);
    expect(h.pings()).toBe(0);
    expect(h.timeouts()).toBe(0);
  });

  it('stops ticking after stop()', () => {
    const h = harness(100);
    h.keepAlive.start();
    vi.advanceTimersByTime(100);
    h.keepAlive.stop();
    vi.advanceTimersByTime(1000);
    expect(h.pings()).toBe(1);
    expect(h.timeouts()).toBe(0);
  });
});
