import { ErrorCode } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { FrameLog } from './frame-log.js';

describe('FrameLog', () => {
  it('finds history first, then waits for the next match', async () => {
    const log = new FrameLog<number>();
    log.push(1);
    log.push(2);
    await expect(log.waitFor((n) => n % 2 === 0)).resolves.toBe(2);
    const future = log.waitFor((n) => n % 2 === 0, { scanHistory: false });
    log.push(3);
    log.push(4);
    await expect(future).resolves.toBe(4);
    expect(log.waiting).toBe(0);
  });

  it('times out with E.TIMEOUT naming what was awaited', async () => {
    const log = new FrameLog<number>();
    await expect(log.waitFor(() => false, { timeoutMs: 10, what: 'answer' })).rejects.toMatchObject({
      code: ErrorCode.TIMEOUT,
      message: 'no answer within 10 ms',
    });
    expect(log.waiting).toBe(0);
  });

  it('passes a throwing predicate error to the waiter and cancels the rest on demand', async () => {
    const log = new FrameLog<number>();
    const throwing = log.waitFor((n) => {
      if (n === 5) throw new Error('bad predicate');
      return false;
    });
    const pending = log.waitFor(() => false, { timeoutMs: 0 });
    log.push(5);
    await expect(throwing).rejects.toThrow('bad predicate');
    log.cancelAll(new Error('closed'));
    await expect(pending).rejects.toThrow('closed');
  });

  it('calls subscribers until they unsubscribe', () => {
    const log = new FrameLog<string>();
    const seen: string[] = [];
    const off = log.subscribe((s) => seen.push(s));
    log.push('a');
    off();
    log.push('b');
    expect(seen).toEqual(['a']);
  });
});
