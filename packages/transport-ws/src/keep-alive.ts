/** Hooks a {@link KeepAlive} drives. */
export interface KeepAliveHooks {
  /** Sends one ping to the peer. */
  ping(): void;
  /** Nothing came back since the previous ping. */
  onTimeout(): void;
}

/**
 * Ping-based liveness check for one connection. Each tick sends a ping;
 * if nothing at all (pong, ping or message) arrived since the previous
 * tick, the peer is declared dead. A silent peer is thus detected between
 * one and two intervals after it went quiet.
 */
export class KeepAlive {
  #alive = true;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly hooks: KeepAliveHooks,
  ) {}

  /** Starts ticking; a no-op when the interval is 0 (keep-alive off). */
  start(): void {
    if (this.intervalMs <= 0 || this.#timer !== undefined) return;
    this.#alive = true;
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    // The socket itself keeps the process alive while it is open; this timer must not.
    this.#timer.unref();
  }

  /** Records proof of life: any inbound frame counts. */
  markAlive(): void {
    this.#alive = true;
  }

  /** Stops ticking for good. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    if (!this.#alive) {
      this.stop();
      this.hooks.onTimeout();
      return;
    }
    this.#alive = false;
    this.hooks.ping();
  }
}
