import type { Frame } from '@astraflow/protocol';

/**
 * Faults a {@link ReferenceScheduler} injects, mutable at any time.
 * Probabilities are in 0..1. `In` faults apply to frames from the worker
 * before the scheduler sees them (a dropped frame is never acked); `Out`
 * faults to frames to the worker, retransmissions included.
 */
export interface Faults {
  dropIn: number;
  dupIn: number;
  /** Hold a frame back and let it pass after the next one. */
  reorderIn: number;
  dropOut: number;
  dupOut: number;
  reorderOut: number;
  /** Delay every frame to the worker by this many ms (order is kept). */
  delayOutMs: number;
  /** Leave matching worker frames (all when `true`) unacked, though still delivered, so the worker retransmits. */
  withholdAcks: boolean | ((frame: Frame) => boolean);
  /**
   * Which frames drop/dup/reorder may hit: `reliable` (default) — frames with
   * a `session_seq` and the window acks about them (`control.ack` carrying
   * `ack_seq`), which the protocol recovers from by retransmission; `all` —
   * session frames too (handshake and its ack, accept, reset, ...).
   */
  scope: 'reliable' | 'all';
}

/** No faults at all. */
export function noFaults(): Faults {
  return {
    dropIn: 0,
    dupIn: 0,
    reorderIn: 0,
    dropOut: 0,
    dupOut: 0,
    reorderOut: 0,
    delayOutMs: 0,
    withholdAcks: false,
    scope: 'reliable',
  };
}

/** What one direction of a link does to the frames passing it. */
export interface LaneSettings {
  /** Probability of losing a frame. */
  drop: number;
  /** Probability of sending a frame twice. */
  dup: number;
  /** Probability of holding a frame back until the next one passed. */
  reorder: number;
  /** Delay of every frame, in ms. */
  delayMs: number;
  scope: Faults['scope'];
}

/** A held frame that no successor released goes out after this long anyway. */
const HOLD_LIMIT_MS = 100;

function inScope(text: string, scope: Faults['scope']): boolean {
  if (scope === 'all') return true;
  try {
    const value = JSON.parse(text) as { type?: unknown; session_seq?: unknown; payload?: { ack_seq?: unknown } };
    return typeof value.session_seq === 'number' || (value.type === 'control.ack' && typeof value.payload?.ack_seq === 'number');
  } catch {
    // Garbage is passed through untouched: it is the test's own payload.
    return false;
  }
}

/**
 * One direction of a faulty link: drops, duplicates, reorders and delays
 * text frames as {@link LaneSettings} (read on every frame) says, drawing
 * from `random`.
 */
export class FaultLane {
  #held: string | undefined;
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #disposed = false;

  constructor(
    private readonly settings: () => LaneSettings,
    private readonly random: () => number,
    private readonly deliver: (text: string) => void,
    private readonly onFault: (kind: 'drop' | 'dup' | 'reorder', text: string) => void = () => {},
  ) {}

  /** Passes one frame through the lane. */
  push(text: string): void {
    if (this.#disposed) return;
    const s = this.settings();
    if (!inScope(text, s.scope)) {
      this.#pass(text, s.delayMs);
      return;
    }
    if (s.drop > 0 && this.random() < s.drop) {
      this.onFault('drop', text);
      return;
    }
    const copies = s.dup > 0 && this.random() < s.dup ? 2 : 1;
    if (copies === 2) this.onFault('dup', text);
    for (let i = 0; i < copies; i++) {
      if (this.#held === undefined && s.reorder > 0 && this.random() < s.reorder) {
        this.onFault('reorder', text);
        this.#hold(text, s.delayMs);
      } else {
        this.#pass(text, s.delayMs);
      }
    }
  }

  /** Sends a held frame now (before a close, so it is not lost behind it). */
  flushHeld(): void {
    const held = this.#takeHeld();
    if (held !== undefined) this.#send(held, this.settings().delayMs);
  }

  /** Stops: held and delayed frames are discarded. */
  dispose(): void {
    this.#disposed = true;
    this.#takeHeld();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #pass(text: string, delayMs: number): void {
    this.#send(text, delayMs);
    const held = this.#takeHeld();
    if (held !== undefined) this.#send(held, delayMs);
  }

  #hold(text: string, delayMs: number): void {
    this.#held = text;
    this.#holdTimer = setTimeout(() => {
      this.#holdTimer = undefined;
      const held = this.#takeHeld();
      if (held !== undefined) this.#send(held, delayMs);
    }, HOLD_LIMIT_MS);
  }

  #takeHeld(): string | undefined {
    const held = this.#held;
    this.#held = undefined;
    if (this.#holdTimer !== undefined) clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    return held;
  }

  #send(text: string, delayMs: number): void {
    if (this.#disposed) return;
    if (delayMs <= 0) {
      this.deliver(text);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#disposed) this.deliver(text);
    }, delayMs);
    this.#timers.add(timer);
  }
}
