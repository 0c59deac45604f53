/**
 * Single flight per `concurrency_key`: while one dispatch holds a key, every
 * other dispatch with that key is refused (and answered
 * `E.CMD.CONCURRENCY_VIOLATION` by the caller) without running.
 */
export class ConcurrencyGuard {
  readonly #held = new Map<string, string>();

  /** Takes `key` for `owner`; false when another owner holds it. */
  tryAcquire(key: string, owner: string): boolean {
    const holder = this.#held.get(key);
    if (holder !== undefined && holder !== owner) return false;
    this.#held.set(key, owner);
    return true;
  }

  /** Who holds `key`, if anyone. */
  holder(key: string): string | undefined {
    return this.#held.get(key);
  }

  /** Frees `key` if `owner` holds it. */
  release(key: string, owner: string): void {
    if (this.#held.get(key) === owner) this.#held.delete(key);
  }

  get size(): number {
    return this.#held.size;
  }
}
