import { AstraError, ErrorCode } from '@astraflow/protocol';

interface Waiter<T> {
  predicate: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Options of {@link FrameLog.waitFor}. */
export interface FrameLogWaitOptions {
  /** Give up after this many ms (`0` or `Infinity`: wait forever). Default 5000. */
  timeoutMs?: number;
  /** Match items already in the log before waiting for new ones. Default true. */
  scanHistory?: boolean;
  /** Names what was awaited in the timeout message. */
  what?: string;
}

/**
 * An append-only record of frames (or anything else) that tests can await.
 * Shared by the dummy transport and `@astraflow/testkit`, so both answer
 * "wait until the worker sent X" the same way: scan what already happened,
 * then wait for what comes next, and fail with a clear timeout otherwise.
 */
export class FrameLog<T> {
  /** Everything pushed so far, oldest first. */
  readonly items: T[] = [];
  readonly #waiters = new Set<Waiter<T>>();
  readonly #listeners = new Set<(item: T) => void>();

  /** Appends `item`, settles matching waiters, then calls listeners. */
  push(item: T): void {
    this.items.push(item);
    for (const waiter of [...this.#waiters]) {
      let matched: boolean;
      try {
        matched = waiter.predicate(item);
      } catch (err) {
        // A predicate that throws is a bug in the test: surface it there.
        this.#settle(waiter);
        waiter.reject(err);
        continue;
      }
      if (matched) {
        this.#settle(waiter);
        waiter.resolve(item);
      }
    }
    for (const listener of [...this.#listeners]) listener(item);
  }

  /** Resolves with the first item matching `predicate`; see {@link FrameLogWaitOptions}. */
  waitFor(predicate: (item: T) => boolean, options: FrameLogWaitOptions = {}): Promise<T> {
    const { timeoutMs = 5000, scanHistory = true, what = 'matching frame' } = options;
    if (scanHistory) {
      try {
        const found = this.items.find(predicate);
        if (found !== undefined) return Promise.resolve(found);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { predicate, resolve, reject, timer: undefined };
      if (timeoutMs > 0 && Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new AstraError(ErrorCode.TIMEOUT, `no ${what} within ${timeoutMs} ms`, { details: { timeoutMs } }));
        }, timeoutMs);
      }
      this.#waiters.add(waiter);
    });
  }

  /** Calls `listener` for every later item; returns the unsubscribe function. */
  subscribe(listener: (item: T) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Number of pending waiters (for leak checks). */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Rejects every pending waiter with `error` (on shutdown). */
  cancelAll(error: unknown): void {
    for (const waiter of [...this.#waiters]) {
      this.#settle(waiter);
      waiter.reject(error);
    }
  }

  #settle(waiter: Waiter<T>): void {
    if (waiter.timer !== undefined) clearTimeout(waiter.timer);
    this.#waiters.delete(waiter);
  }
}
