import type { OverflowPolicy } from '@astraflow/protocol';

/** Outcome of {@link BoundedQueue.push}: the item that had to go, if any. */
export type PushOutcome<T> = { accepted: true; dropped?: T } | { accepted: false; dropped: T };

/** Options of {@link BoundedQueue}. */
export interface BoundedQueueOptions {
  /** Capacity; 0 = unbounded. */
  max: number;
  policy: OverflowPolicy;
}

/**
 * FIFO with a capacity and an overflow policy, shared by the session's app
 * queue and the per-type dispatch queues. `block` makes `push` wait for
 * room (backpressure travels upstream); `drop_new` refuses the new item;
 * `drop_oldest` evicts the head. Whatever is dropped is returned to the
 * caller, which must account for it (log, count, answer) — nothing vanishes
 * silently here.
 */
export class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #max: number;
  readonly #policy: OverflowPolicy;
  readonly #takers: Array<(item: T) => void> = [];
  readonly #spaceWaiters: Array<() => void> = [];
  #dropped = 0;

  constructor(options: BoundedQueueOptions) {
    this.#max = options.max;
    this.#policy = options.policy;
  }

  /** Items waiting. */
  get size(): number {
    return this.#items.length;
  }

  /** Items dropped by the overflow policy so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Producers currently waiting for room (`block` policy). */
  get blockedProducers(): number {
    return this.#spaceWaiters.length;
  }

  #full(): boolean {
    return this.#max > 0 && this.#items.length >= this.#max;
  }

  /** Adds an item, applying the overflow policy when full. */
  async push(item: T): Promise<PushOutcome<T>> {
    const taker = this.#takers.shift();
    if (taker) {
      taker(item);
      return { accepted: true };
    }
    if (!this.#full()) {
      this.#items.push(item);
      return { accepted: true };
    }
    switch (this.#policy) {
      case 'drop_new':
        this.#dropped++;
        return { accepted: false, dropped: item };
      case 'drop_oldest': {
        const dropped = this.#items.shift() as T;
        this.#items.push(item);
        this.#dropped++;
        return { accepted: true, dropped };
      }
      case 'block':
        while (this.#full()) await new Promise<void>((resolve) => this.#spaceWaiters.push(resolve));
        return this.push(item);
    }
  }

  /** Removes the head, waiting for one if empty. */
  shift(): Promise<T> {
    if (this.#items.length > 0) {
      const item = this.#items.shift() as T;
      this.#spaceWaiters.shift()?.();
      return Promise.resolve(item);
    }
    return new Promise<T>((resolve) => this.#takers.push(resolve));
  }

  /** Removes the head if there is one, without waiting. */
  tryShift(): T | undefined {
    if (this.#items.length === 0) return undefined;
    const item = this.#items.shift() as T;
    this.#spaceWaiters.shift()?.();
    return item;
  }

  /** The head, left in place. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /**
   * Removes the first item `accept` takes, scanning from the head; items
   * before it stay in order. This lets a consumer pass over items that
   * cannot start yet without reordering them among themselves.
   */
  takeFirst(accept: (item: T) => boolean): T | undefined {
    const index = this.#items.findIndex(accept);
    if (index < 0) return undefined;
    const [item] = this.#items.splice(index, 1);
    this.#spaceWaiters.shift()?.();
    return item;
  }

  /** Removes and returns everything waiting (for shutdown accounting). */
  drainAll(): T[] {
    const all = this.#items.splice(0);
    for (const wake of this.#spaceWaiters.splice(0)) wake();
    return all;
  }
}
