/**
 * Smoothed round-trip time of the reliable stream: from a frame's first
 * transmission to the scheduler's ack of it, as TCP estimates its RTT
 * (exponential average, weight 1/8). Frames that were retransmitted are not
 * sampled, since their ack cannot be matched to one transmission (Karn).
 * Reported as heartbeat `latency_ms`.
 */
export class LatencyEstimate {
  #smoothed: number | undefined;

  /** Adds one measured round trip (ms); negative or non-finite values are ignored. */
  sample(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.#smoothed = this.#smoothed === undefined ? ms : this.#smoothed + (ms - this.#smoothed) / 8;
  }

  /** The estimate in whole milliseconds, undefined before the first sample. */
  get ms(): number | undefined {
    return this.#smoothed === undefined ? undefined : Math.round(this.#smoothed);
  }
}
