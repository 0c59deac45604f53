import { describe, expect, it } from 'vitest';
import { ConcurrencyGuard } from './concurrency-guard.js';
import { FailureCooldown } from './failure-cooldown.js';
import { Semaphore } from './semaphore.js';

describe('ConcurrencyGuard', () => {
  it('lets one owner hold a key at a time', () => {
    const guard = new ConcurrencyGuard();
    expect(guard.tryAcquire('k', 'a')).toBe(true);
    expect(guard.tryAcquire('k', 'b')).toBe(false);
    expect(guard.tryAcquire('k', 'a')).toBe(true);
    guard.release('k', 'b');
    expect(guard.holder('k')).toBe('a');
    guard.release('k', 'a');
    expect(guard.tryAcquire('k', 'b')).toBe(true);
  });
});

describe('FailureCooldown', () => {
  it('cools down after N consecutive failures and resets on success', () => {
    let now = 0;
    const cd = new FailureCooldown(2, 1000, () => now);
    expect(cd.recordFailure('h')).toBe(false);
    cd.recordSuccess('h');
    expect(cd.recordFailure('h')).toBe(false);
    expect(cd.recordFailure('h')).toBe(true);
    expect(cd.remainingMs('h')).toBe(1000);
    now = 1000;
    expect(cd.remainingMs('h')).toBe(0);
  });

  it('is off with maxFailures 0', () => {
    const cd = new FailureCooldown(0, 1000);
    for (let i = 0; i < 10; i++) expect(cd.recordFailure('h')).toBe(false);
  });
});

describe('Semaphore', () => {
  it('serves waiters in order', async () => {
    const s = new Semaphore(1);
    await s.acquire();
    const order: number[] = [];
    const a = s.acquire().then(() => order.push(1));
    const b = s.acquire().then(() => order.push(2));
    expect(s.waiting).toBe(2);
    s.release();
    await a;
    s.release();
    await b;
    expect(order).toEqual([1, 2]);
    s.release();
    expect(s.inUse).toBe(0);
  });
});
