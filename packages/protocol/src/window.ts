/**
 * Sliding-window primitives of docs/protocol.md §5. Pure data structures: no
 * timers, no I/O; the session layer drives them.
 */

/**
 * How many bitmap bits travel on the wire. JSON numbers are IEEE doubles, so
 * only the low 53 bits of an integer survive a round trip exactly. Leaving
 * higher bits clear is always safe: the peer merely retransmits those frames
 * and the receiver drops them as duplicates.
 */
export const WIRE_BITMAP_BITS = 53;
const WIRE_MASK = (1n << BigInt(WIRE_BITMAP_BITS)) - 1n;

/** The ack fields a receiver advertises: `{ack_seq, ack_bitmap, recv_window}`. */
export interface AckState {
  ack_seq: number;
  ack_bitmap: number;
  recv_window: number;
}

/** Outcome of {@link ReceiveWindow.offer}. */
export type OfferStatus = 'accepted' | 'duplicate' | 'beyond';

/**
 * True when an ack `{ack_seq, ack_bitmap}` covers `seq`: `seq ≤ ack_seq`, or
 * bit `seq − ack_seq − 1` of the bitmap is set. A bitmap that is not a safe
 * integer (it lost precision in JSON) is ignored rather than trusted.
 */
export function isSeqAcked(seq: number, ackSeq: number, ackBitmap = 0): boolean {
  if (seq <= ackSeq) return true;
  const offset = seq - ackSeq - 1;
  if (offset >= WIRE_BITMAP_BITS || !Number.isSafeInteger(ackBitmap) || ackBitmap <= 0) return false;
  return Math.floor(ackBitmap / 2 ** offset) % 2 === 1;
}

/**
 * Receiver side: buffers out-of-order frames inside the window and releases
 * them in order. `base` is the highest sequence delivered contiguously.
 */
export class ReceiveWindow<T> {
  readonly size: number;
  #base: number;
  #bitmap = 0n;
  readonly #buffer = new Map<number, T>();

  constructor(size: number, base = 0) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be an integer ≥ 1, got ${size}`);
    if (!Number.isInteger(base) || base < 0) throw new RangeError(`window base must be an integer ≥ 0, got ${base}`);
    this.size = size;
    this.#base = base;
  }

  /** Highest sequence delivered in order (0 before the first frame). */
  get base(): number {
    return this.#base;
  }

  /** Frames held out of order, waiting for a gap to fill. */
  get buffered(): number {
    return this.#buffer.size;
  }

  /** Full-precision bitmap of buffered frames: bit i ⇔ `base + 1 + i` is held. */
  get bitmap(): bigint {
    return this.#bitmap;
  }

  /**
   * Offers frame `seq`. Returns the frames that became deliverable, in
   * order (possibly none), and whether `seq` was new, a duplicate or beyond
   * the window. Every outcome should still be acked.
   */
  offer(seq: number, item: T): { status: OfferStatus; delivered: T[] } {
    // 0 passes the envelope schema (minimum 0) but numbering starts at 1, so it can only be stale.
    if (!Number.isInteger(seq) || seq < 0) throw new RangeError(`session_seq must be an integer ≥ 0, got ${seq}`);
    if (seq <= this.#base) return { status: 'duplicate', delivered: [] };
    const offset = seq - this.#base - 1;
    if (offset >= this.size) return { status: 'beyond', delivered: [] };
    if (this.#buffer.has(seq)) return { status: 'duplicate', delivered: [] };
    this.#buffer.set(seq, item);
    this.#bitmap |= 1n << BigInt(offset);
    const delivered: T[] = [];
    while (this.#bitmap & 1n) {
      const next = this.#base + 1;
      delivered.push(this.#buffer.get(next) as T);
      this.#buffer.delete(next);
      this.#base = next;
      this.#bitmap >>= 1n;
    }
    return { status: 'accepted', delivered };
  }

  /** The ack fields to send now. The bitmap is cut to what JSON carries exactly. */
  ackState(): AckState {
    return { ack_seq: this.#base, ack_bitmap: Number(this.#bitmap & WIRE_MASK), recv_window: this.size };
  }

  /**
   * Gives up on the gap: returns the buffered frames in sequence order and
   * empties the buffer (the base stays). For a window stuck behind a frame
   * that never comes: those frames were acked by bitmap, so the caller
   * delivers them before starting a fresh session instead of losing them.
   */
  takeBuffered(): T[] {
    const items = [...this.#buffer.entries()].sort(([a], [b]) => a - b).map(([, item]) => item);
    this.#buffer.clear();
    this.#bitmap = 0n;
    return items;
  }

  /** Forgets everything (fresh session): base back to `base`, buffer emptied. */
  reset(base = 0): void {
    if (!Number.isInteger(base) || base < 0) throw new RangeError(`window base must be an integer ≥ 0, got ${base}`);
    this.#base = base;
    this.#bitmap = 0n;
    this.#buffer.clear();
  }
}

/** One frame waiting for its ack in a {@link SendWindow}. */
export interface PendingEntry<T> {
  seq: number;
  id: string;
  item: T;
}

/**
 * Sender side: numbers frames from 1, holds them until acked, and limits how
 * many are unacked at once. Retransmission timing belongs to the caller.
 */
export class SendWindow<T> {
  #size: number;
  #nextSeq = 1;
  readonly #pending = new Map<number, PendingEntry<T>>();
  readonly #seqById = new Map<string, number>();

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`window size must be an integer ≥ 1, got ${size}`);
    this.#size = size;
  }

  /** Credit: the peer's receive window `W` (see {@link SendWindow.hasCredit}). */
  get size(): number {
    return this.#size;
  }

  /** Adopts the peer's advertised `recv_window` (never below 1). */
  set size(value: number) {
    // `|| 1` also turns NaN into 1: a NaN credit would block the sender forever.
    this.#size = Math.max(1, Math.floor(value) || 1);
  }

  /** Frames sent and not yet acked. */
  get inflight(): number {
    return this.#pending.size;
  }

  /**
   * True when another frame may be sent now: its sequence must fall within
   * `size` of the oldest unacked frame. Counting unacked frames alone is not
   * enough: once later frames are acked by bitmap, it would let the sender
   * run past the receiver's window, whose frames are dropped (yet acked by
   * id). This also keeps at most `size` frames unacked.
   */
  get hasCredit(): boolean {
    const oldest = this.#pending.keys().next();
    // Map order is insertion order, and sequence numbers are inserted ascending.
    const oldestSeq = oldest.done ? this.#nextSeq : oldest.value;
    return this.#nextSeq - oldestSeq < this.#size;
  }

  /** The sequence number the next {@link SendWindow.push} will use. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Assigns the next sequence number to a frame and holds it until acked. Check {@link hasCredit} first. */
  push(id: string, make: (seq: number) => T): PendingEntry<T> {
    const seq = this.#nextSeq++;
    const entry = { seq, id, item: make(seq) };
    this.#pending.set(seq, entry);
    this.#seqById.set(id, seq);
    return entry;
  }

  /**
   * Applies an ack and returns the entries it newly covers, in sequence
   * order. An ack counts for a frame when it names the frame's id, or covers
   * its sequence by `ack_seq` / `ack_bitmap`. Unknown or late acks return [].
   *
   * One exception to the id rule: receivers ack every frame, even one they
   * dropped for being beyond their window. When the same ack shows the frame
   * lies beyond `ack_seq + recv_window`, its id does not count, so the frame
   * stays pending and is sent again.
   */
  ack(ack: {
    for?: string | null;
    ack_seq?: number | null;
    ack_bitmap?: number | null;
    recv_window?: number | null;
  }): PendingEntry<T>[] {
    const done: PendingEntry<T>[] = [];
    if (ack.for) {
      const seq = this.#seqById.get(ack.for);
      const entry = seq === undefined ? undefined : this.#pending.get(seq);
      const dropped =
        entry !== undefined &&
        typeof ack.ack_seq === 'number' &&
        typeof ack.recv_window === 'number' &&
        entry.seq - ack.ack_seq > ack.recv_window;
      if (entry && !dropped) done.push(entry);
    }
    if (typeof ack.ack_seq === 'number') {
      for (const entry of this.#pending.values()) {
        if (!done.includes(entry) && isSeqAcked(entry.seq, ack.ack_seq, ack.ack_bitmap ?? 0)) done.push(entry);
      }
    }
    for (const entry of done) {
      this.#pending.delete(entry.seq);
      this.#seqById.delete(entry.id);
    }
    return done.sort((a, b) => a.seq - b.seq);
  }

  /** Unacked entries in sequence order (for retransmission after a resume). */
  pending(): PendingEntry<T>[] {
    return [...this.#pending.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Looks up an unacked entry. */
  get(seq: number): PendingEntry<T> | undefined {
    return this.#pending.get(seq);
  }

  /** Forgets everything (fresh session) and returns what was still unacked. */
  reset(): PendingEntry<T>[] {
    const left = this.pending();
    this.#pending.clear();
    this.#seqById.clear();
    this.#nextSeq = 1;
    return left;
  }
}
