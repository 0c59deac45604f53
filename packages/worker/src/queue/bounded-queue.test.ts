import { describe, expect, it } from 'vitest';
import { BoundedQueue } from './bounded-queue.js';

describe('BoundedQueue', () => {
  it('is FIFO and unbounded with max 0', async () => {
    const q = new BoundedQueue<number>({ max: 0, policy: 'drop_new' });
    for (let i = 0; i < 1000; i++) expect((await q.push(i)).accepted).toBe(true);
    expect(q.size).toBe(1000);
    expect(await q.shift()).toBe(0);
    expect(q.tryShift()).toBe(1);
  });

  it('drop_new refuses the newcomer and reports it', async () => {
    const q = new BoundedQueue<string>({ max: 2, policy: 'drop_new' });
    await q.push('a');
    await q.push('b');
    expect(await q.push('c')).toEqual({ accepted: false, dropped: 'c' });
    expect(q.drainAll()).toEqual(['a', 'b']);
    expect(q.dropped).toBe(1);
  });

  it('drop_oldest evicts the head and reports it', async () => {
    const q = new BoundedQueue<string>({ max: 2, policy: 'drop_oldest' });
    await q.push('a');
    await q.push('b');
    expect(await q.push('c')).toEqual({ accepted: true, dropped: 'a' });
    expect(q.drainAll()).toEqual(['b', 'c']);
  });

  it('block makes the producer wait until a consumer makes room', async () => {
    const q = new BoundedQueue<number>({ max: 1, policy: 'block' });
    await q.push(1);
    let pushed = false;
    const pending = q.push(2).then(() => {
      pushed = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(pushed).toBe(false);
    expect(q.blockedProducers).toBe(1);
    expect(await q.shift()).toBe(1);
    await pending;
    expect(pushed).toBe(true);
    expect(await q.shift()).toBe(2);
  });

  it('hands an item straight to a waiting consumer', async () => {
    const q = new BoundedQueue<number>({ max: 1, policy: 'drop_new' });
    const taken = q.shift();
    await q.push(7);
    expect(await taken).toBe(7);
    expect(q.size).toBe(0);
  });
});
