/** `handler_dispatch_max_failures` and `handler_dispatch_failure_cooldown_seconds`, compiled. */
export interface CooldownConfig {
  /** Consecutive failures that start a cooldown (0 = never). */
  maxFailures: number;
  ms: number;
}

/**
 * After `maxFailures` consecutive failures of one handler, refuses it for
 * `cooldownMs`; a success resets the count. `maxFailures = 0` disables it.
 */
export class FailureCooldown {
  readonly #failures = new Map<string, number>();
  readonly #until = new Map<string, number>();

  constructor(
    readonly maxFailures: number,
    readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds left in `key`'s cooldown, 0 when it may run. */
  remainingMs(key: string): number {
    const until = this.#until.get(key);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left <= 0) {
      this.#until.delete(key);
      return 0;
    }
    return left;
  }

  recordSuccess(key: string): void {
    this.#failures.delete(key);
  }

  /** Counts a failure; returns true when this failure started a cooldown. */
  recordFailure(key: string): boolean {
    if (this.maxFailures <= 0) return false;
    const count = (this.#failures.get(key) ?? 0) + 1;
    if (count >= this.maxFailures && this.cooldownMs > 0) {
      this.#failures.delete(key);
      this.#until.set(key, this.now() + this.cooldownMs);
      return true;
    }
    this.#failures.set(key, count);
    return false;
  }
}
