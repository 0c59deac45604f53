import { describe, expect, it } from 'vitest';
import { createLoadMonitor, createLoadSampler } from './load-monitor.js';

const options = { intervalMs: 100, maxEventLoopDelayMs: 200, maxHeapUsedPct: 90, recoverPct: 50 };

describe('createLoadMonitor', () => {
  it('becomes overloaded over a threshold and recovers only below the recovery level', () => {
    const monitor = createLoadMonitor(options);
    expect(monitor.overloaded).toBe(false);
    monitor.update({ eventLoopDelayMs: 150, heapUsedPct: 10 });
    expect(monitor.overloaded).toBe(false);
    monitor.update({ eventLoopDelayMs: 250, heapUsedPct: 10 });
    expect(monitor.overloaded).toBe(true);
    // Under the threshold but above 50 % of it: still overloaded (hysteresis).
    monitor.update({ eventLoopDelayMs: 150, heapUsedPct: 10 });
    expect(monitor.overloaded).toBe(true);
    monitor.update({ eventLoopDelayMs: 90, heapUsedPct: 10 });
    expect(monitor.overloaded).toBe(false);
    monitor.update({ eventLoopDelayMs: 10, heapUsedPct: 95 });
    expect(monitor.overloaded).toBe(true);
    // Delay fine, heap still above 45 %: both must fall.
    monitor.update({ eventLoopDelayMs: 10, heapUsedPct: 60 });
    expect(monitor.overloaded).toBe(true);
    monitor.update({ eventLoopDelayMs: 10, heapUsedPct: 40 });
    expect(monitor.overloaded).toBe(false);
    expect(monitor.episodes).toBe(2);
    expect(monitor.retryAfterMs).toBeGreaterThanOrEqual(1000);
  });

  it('ignores a figure whose threshold is 0', () => {
    const monitor = createLoadMonitor({ ...options, maxEventLoopDelayMs: 0, maxHeapUsedPct: 0 });
    monitor.update({ eventLoopDelayMs: 1e6, heapUsedPct: 100 });
    expect(monitor.overloaded).toBe(false);
  });

  it('measures a blocked event loop with the real sampler', async () => {
    const sampler = createLoadSampler(50);
    try {
      await new Promise((resolve) => setTimeout(resolve, 60));
      sampler.sample();
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          const end = performance.now() + 250;
          while (performance.now() < end) {
            // block the loop
          }
          resolve();
        }, 20),
      );
      await new Promise((resolve) => setTimeout(resolve, 30));
      const sample = sampler.sample();
      expect(sample.eventLoopDelayMs).toBeGreaterThanOrEqual(200);
      expect(sample.heapUsedPct).toBeGreaterThan(0);
      expect(sample.heapUsedPct).toBeLessThan(100);
    } finally {
      sampler.close();
    }
  });
});
