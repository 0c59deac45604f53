import { clampTimerMs } from '@astraflow/protocol';

/**
 * Notices a receive window stuck behind one missing frame: frames are
 * buffered beyond a gap and the delivered base has not moved for
 * `limitMs`. The session then reports `healthy: false` and resets rather
 * than buffer every later frame forever. `limitMs` 0 = never.
 */
export class RecvStallWatch {
  readonly #limitMs: number;
  readonly #onStall: () => void;
  #base = -1;
  #timer: NodeJS.Timeout | undefined;
  #stuck = false;

  constructor(limitMs: number, onStall: () => void) {
    this.#limitMs = clampTimerMs(limitMs);
    this.#onStall = onStall;
  }

  /** True once the window has waited longer than the limit (until the next {@link observe} that moves it). */
  get stuck(): boolean {
    return this.#stuck;
  }

  /** Call after every offer to the window with its delivered base and how many frames it buffers. */
  observe(base: number, buffered: number): void {
    if (buffered === 0) {
      this.stop();
      return;
    }
    if (base === this.#base && this.#timer) return; // still waiting for the same frame
    this.stop();
    this.#base = base;
    if (this.#limitMs === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#stuck = true;
      this.#onStall();
    }, this.#limitMs);
    this.#timer.unref();
  }

  /** Forgets the watched gap (window emptied, reset or session closed). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#base = -1;
    this.#stuck = false;
  }
}
