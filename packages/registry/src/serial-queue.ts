/**
 * Runs tasks one after another per key (here: per package name), while
 * different keys run in parallel. A failed task does not block the next.
 */
export class SerialQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Queues `task` behind every earlier task of `key`; resolves/rejects with its outcome. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** True while a task of `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
