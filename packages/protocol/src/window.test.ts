import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from './random.test.util.js';
import { isSeqAcked, ReceiveWindow, SendWindow, WIRE_BITMAP_BITS, type AckState } from './window.js';

/** Bit positions set in a bigint bitmap, lowest first. */
function bitsOf(bitmap: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; bitmap > 0n; i++, bitmap >>= 1n) if (bitmap & 1n) out.push(i);
  return out;
}

/** docs/protocol.md §5: bit i of the bitmap ⇔ frame `base + 1 + i` is buffered. */
function expectBitmapMatches(window: ReceiveWindow<unknown>, held: Set<number>): void {
  const expected = [...held].map((seq) => seq - window.base - 1).sort((a, b) => a - b);
  expect(bitsOf(window.bitmap)).toEqual(expected);
  expect(window.buffered).toBe(held.size);
}

describe('ReceiveWindow', () => {
  it('refuses a bad size or base', () => {
    expect(() => new ReceiveWindow(0)).toThrow(RangeError);
    expect(() => new ReceiveWindow(2.5)).toThrow(RangeError);
    expect(() => new ReceiveWindow(4, -1)).toThrow(RangeError);
    expect(() => new ReceiveWindow(4).reset(-1)).toThrow(RangeError);
  });

  it('refuses a negative or fractional sequence', () => {
    const window = new ReceiveWindow<string>(4);
    expect(() => window.offer(-1, 'x')).toThrow(RangeError);
    expect(() => window.offer(1.5, 'x')).toThrow(RangeError);
    expect(window.base).toBe(0);
  });

  it('delivers in-order frames at once', () => {
    const window = new ReceiveWindow<string>(4);
    for (let seq = 1; seq <= 10; seq++) {
      expect(window.offer(seq, `f${seq}`)).toEqual({ status: 'accepted', delivered: [`f${seq}`] });
      expect(window.base).toBe(seq);
      expect(window.bitmap).toBe(0n);
      expect(window.buffered).toBe(0);
    }
    expect(window.ackState()).toEqual({ ack_seq: 10, ack_bitmap: 0, recv_window: 4 });
  });

  it('buffers out-of-order frames, sets their bits, and releases them in order once the gap fills', () => {
    const window = new ReceiveWindow<string>(8);
    expect(window.offer(3, 'f3')).toEqual({ status: 'accepted', delivered: [] });
    expect(window.bitmap).toBe(0b100n);
    expect(window.offer(5, 'f5')).toEqual({ status: 'accepted', delivered: [] });
    expect(window.bitmap).toBe(0b10100n);
    expect(window.ackState()).toEqual({ ack_seq: 0, ack_bitmap: 0b10100, recv_window: 8 });
    expect(window.offer(1, 'f1')).toEqual({ status: 'accepted', delivered: ['f1'] });
    // base 1: frames 3 and 5 now sit at bits 1 and 3.
    expect(window.base).toBe(1);
    expect(window.bitmap).toBe(0b1010n);
    expect(window.offer(2, 'f2')).toEqual({ status: 'accepted', delivered: ['f2', 'f3'] });
    expect(window.base).toBe(3);
    expect(window.bitmap).toBe(0b10n);
    expect(window.offer(4, 'f4')).toEqual({ status: 'accepted', delivered: ['f4', 'f5'] });
    expect(window.base).toBe(5);
    expect(window.bitmap).toBe(0n);
    expect(window.buffered).toBe(0);
  });

  it('calls anything at or below base a duplicate, 0 included', () => {
    const window = new ReceiveWindow<string>(4);
    window.offer(1, 'f1');
    window.offer(2, 'f2');
    for (const seq of [0, 1, 2]) expect(window.offer(seq, 'again')).toEqual({ status: 'duplicate', delivered: [] });
    expect(window.base).toBe(2);
  });

  it('calls a frame already buffered a duplicate and keeps the first copy', () => {
    const window = new ReceiveWindow<string>(4);
    window.offer(3, 'first');
    expect(window.offer(3, 'second')).toEqual({ status: 'duplicate', delivered: [] });
    expect(window.buffered).toBe(1);
    window.offer(2, 'f2');
    expect(window.offer(1, 'f1').delivered).toEqual(['f1', 'f2', 'first']);
  });

  it('drops frames beyond the window without touching its state', () => {
    const window = new ReceiveWindow<string>(4);
    expect(window.offer(4, 'f4').status).toBe('accepted'); // offset 3 = W − 1: last slot
    expect(window.offer(5, 'f5')).toEqual({ status: 'beyond', delivered: [] }); // offset 4 = W
    expect(window.offer(1000, 'far')).toEqual({ status: 'beyond', delivered: [] });
    expect(window.bitmap).toBe(0b1000n);
    expect(window.buffered).toBe(1);
    window.offer(1, 'f1');
    // base 1: 5 now fits (offset 3).
    expect(window.offer(5, 'f5').status).toBe('accepted');
  });

  it('with a window of 1 takes only the next frame', () => {
    const window = new ReceiveWindow<number>(1);
    expect(window.offer(2, 2).status).toBe('beyond');
    expect(window.offer(1, 1)).toEqual({ status: 'accepted', delivered: [1] });
    expect(window.offer(2, 2)).toEqual({ status: 'accepted', delivered: [2] });
  });

  it('keeps the full bitmap but advertises only its low 53 bits', () => {
    const window = new ReceiveWindow<number>(64);
    for (let seq = 2; seq <= 64; seq++) window.offer(seq, seq);
    expect(window.bitmap).toBe((1n << 64n) - 2n); // bits 1..63
    const ack = window.ackState();
    expect(WIRE_BITMAP_BITS).toBe(53);
    expect(ack.ack_bitmap).toBe(2 ** 53 - 2);
    expect(Number.isSafeInteger(ack.ack_bitmap)).toBe(true);
    expect(JSON.parse(JSON.stringify(ack))).toEqual(ack);
    // The peer reads frames 2..53 as received; 54..64 stay unacked (and get resent, harmlessly).
    for (let seq = 2; seq <= 64; seq++) expect(isSeqAcked(seq, ack.ack_seq, ack.ack_bitmap), `seq ${seq}`).toBe(seq <= 53);
    expect(isSeqAcked(1, ack.ack_seq, ack.ack_bitmap)).toBe(false);
  });

  it('starts from a given base, and reset forgets everything', () => {
    const window = new ReceiveWindow<string>(4, 10);
    expect(window.offer(10, 'old').status).toBe('duplicate');
    window.offer(13, 'f13');
    window.reset();
    expect(window.base).toBe(0);
    expect(window.bitmap).toBe(0n);
    expect(window.buffered).toBe(0);
    expect(window.offer(1, 'new')).toEqual({ status: 'accepted', delivered: ['new'] });
    window.reset(50);
    expect(window.ackState()).toEqual({ ack_seq: 50, ack_bitmap: 0, recv_window: 4 });
    expect(window.offer(51, 'f51').delivered).toEqual(['f51']);
  });

  it.each([
    [1, 10_000],
    [8, 10_000],
    [53, 10_000],
    [64, 10_000],
  ])('W=%i: %i frames in random order within the window come out once each, in order', (size, count) => {
    const rng = createRng(size * 7919);
    const window = new ReceiveWindow<number>(size);
    const out: number[] = [];
    const held = new Set<number>();
    const unsent = new Set<number>();
    let nextFresh = 1;
    let duplicates = 0;
    while (out.length < count) {
      // Anything not yet offered inside [base + 1, base + W] may come next.
      while (nextFresh <= Math.min(window.base + size, count)) unsent.add(nextFresh++);
      const candidates = [...unsent];
      const seq = rng.pick(candidates);
      const result = window.offer(seq, seq);
      expect(result.status).toBe('accepted');
      unsent.delete(seq);
      held.add(seq);
      for (const item of result.delivered) held.delete(item);
      out.push(...result.delivered);
      // Now and then, a stale or repeated frame, or one from too far ahead.
      const roll = rng.next();
      if (roll < 0.1) {
        const heldNow = [...held];
        const again =
          heldNow.length > 0 && rng.next() < 0.5 ? rng.pick(heldNow) : rng.int(Math.max(0, window.base - size), window.base);
        expect(window.offer(again, -1)).toEqual({ status: 'duplicate', delivered: [] });
        duplicates++;
      } else if (roll < 0.12) {
        expect(window.offer(window.base + size + rng.int(1, 100), -1)).toEqual({ status: 'beyond', delivered: [] });
      }
      expectBitmapMatches(window, held);
    }
    expect(out).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    expect(window.base).toBe(count);
    expect(window.bitmap).toBe(0n);
    expect(duplicates).toBeGreaterThan(0);
  });
});

describe('isSeqAcked', () => {
  it('covers everything up to ack_seq whatever the bitmap', () => {
    for (const seq of [1, 5, 10]) expect(isSeqAcked(seq, 10)).toBe(true);
    expect(isSeqAcked(10, 10, 2 ** 60)).toBe(true);
    expect(isSeqAcked(11, 10)).toBe(false);
  });

  it('reads bit seq − ack_seq − 1 of the bitmap', () => {
    const bitmap = 0b101;
    expect([11, 12, 13, 14].map((seq) => isSeqAcked(seq, 10, bitmap))).toEqual([true, false, true, false]);
    expect(isSeqAcked(10 + 53, 10, 2 ** 52)).toBe(true);
    expect(isSeqAcked(10 + 52, 10, 2 ** 52)).toBe(false);
    expect(isSeqAcked(10 + 54, 10, Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('ignores a bitmap that lost precision or makes no sense', () => {
    // 2^53 + 2: an even number past 2^53 that JSON would deliver, bits unknowable.
    for (const bitmap of [2 ** 53, 2 ** 53 + 2, 2 ** 60, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      for (let seq = 11; seq < 70; seq++) expect(isSeqAcked(seq, 10, bitmap), `${bitmap} ${seq}`).toBe(false);
    }
  });
});

function pushN(window: SendWindow<string>, n: number): void {
  for (let i = 0; i < n; i++) window.push(`id-${window.nextSeq}`, (seq) => `frame-${seq}`);
}

describe('SendWindow', () => {
  it('refuses a bad size', () => {
    expect(() => new SendWindow(0)).toThrow(RangeError);
    expect(() => new SendWindow(1.5)).toThrow(RangeError);
  });

  it('numbers frames from 1 and builds each with its sequence', () => {
    const window = new SendWindow<string>(8);
    expect(window.nextSeq).toBe(1);
    const seen: number[] = [];
    const first = window.push('a', (seq) => {
      seen.push(seq);
      return `frame-${seq}`;
    });
    expect(first).toEqual({ seq: 1, id: 'a', item: 'frame-1' });
    expect(window.push('b', (seq) => `frame-${seq}`).seq).toBe(2);
    expect(seen).toEqual([1]);
    expect(window.nextSeq).toBe(3);
    expect(window.inflight).toBe(2);
    expect(window.get(2)).toEqual({ seq: 2, id: 'b', item: 'frame-2' });
    expect(window.get(3)).toBeUndefined();
  });

  it('gives credit for at most size unacked frames', () => {
    const window = new SendWindow<string>(2);
    expect(window.hasCredit).toBe(true);
    pushN(window, 2);
    expect(window.hasCredit).toBe(false);
    window.ack({ for: 'id-1' });
    expect(window.hasCredit).toBe(true);
  });

  it('keeps new frames inside the receiver window even when later frames are acked first', () => {
    const window = new SendWindow<string>(4);
    pushN(window, 4);
    // 2, 3 and 4 acked by bitmap: one frame is unacked, but frame 5 would land beyond base 0 + W.
    expect(window.ack({ ack_seq: 0, ack_bitmap: 0b1110 }).map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(window.inflight).toBe(1);
    expect(window.hasCredit).toBe(false);
    window.ack({ for: 'id-1' });
    pushN(window, 4);
    expect(window.pending().map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(window.hasCredit).toBe(false);
  });

  it('does not take an id ack for a frame the same ack shows beyond the receiver window', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 6);
    // The receiver (base 0, W 4) dropped frame 6 and still acked it by id.
    expect(window.ack({ for: 'id-6', ack_seq: 0, ack_bitmap: 0, recv_window: 4 })).toEqual([]);
    // Frame 4 is the last slot of that window: its id counts.
    expect(window.ack({ for: 'id-4', ack_seq: 0, ack_bitmap: 0, recv_window: 4 }).map((e) => e.seq)).toEqual([4]);
    // Without window information (control acks, older peers) the id alone decides.
    expect(window.ack({ for: 'id-6' }).map((e) => e.seq)).toEqual([6]);
  });

  it('adopts the advertised recv_window, never below 1', () => {
    const window = new SendWindow<string>(4);
    for (const [value, size] of [
      [10, 10],
      [2.7, 2],
      [0, 1],
      [-5, 1],
      [Number.NaN, 1],
    ] as const) {
      window.size = value;
      expect(window.size, String(value)).toBe(size);
    }
    pushN(window, 1);
    expect(window.hasCredit).toBe(false);
  });

  it('acks by id, once', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 3);
    expect(window.ack({ for: 'id-2' }).map((e) => e.seq)).toEqual([2]);
    expect(window.ack({ for: 'id-2' })).toEqual([]);
    expect(window.pending().map((e) => e.seq)).toEqual([1, 3]);
  });

  it('acks by ack_seq and by bitmap, returning entries in sequence order', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 6);
    expect(window.ack({ ack_seq: 0, ack_bitmap: 0b10100 }).map((e) => e.seq)).toEqual([3, 5]);
    expect(window.ack({ ack_seq: 2, ack_bitmap: null }).map((e) => e.seq)).toEqual([1, 2]);
    expect(window.ack({ ack_seq: 4, ack_bitmap: 0b11 }).map((e) => e.seq)).toEqual([4, 6]);
    expect(window.inflight).toBe(0);
  });

  it('counts an entry once when id and sequence both cover it', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 3);
    expect(window.ack({ for: 'id-2', ack_seq: 3 }).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('ignores late, unknown and empty acks', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 2);
    window.ack({ ack_seq: 1 });
    expect(window.ack({ ack_seq: 1 })).toEqual([]);
    expect(window.ack({ for: 'id-1' })).toEqual([]);
    expect(window.ack({ for: 'never-sent' })).toEqual([]);
    expect(window.ack({})).toEqual([]);
    expect(window.ack({ for: null, ack_seq: null, ack_bitmap: null })).toEqual([]);
    expect(window.ack({ ack_seq: 0, ack_bitmap: 0 })).toEqual([]);
    expect(window.pending().map((e) => e.seq)).toEqual([2]);
  });

  it('lists pending entries in sequence order whatever order they were acked in', () => {
    const window = new SendWindow<string>(16);
    pushN(window, 8);
    window.ack({ for: 'id-5' });
    window.ack({ ack_seq: 0, ack_bitmap: 0b1000010 }); // 2 and 7
    expect(window.pending().map((e) => e.seq)).toEqual([1, 3, 4, 6, 8]);
    expect(window.pending().map((e) => e.item)).toEqual(['frame-1', 'frame-3', 'frame-4', 'frame-6', 'frame-8']);
  });

  it('reset hands back what was unacked and numbers from 1 again', () => {
    const window = new SendWindow<string>(8);
    pushN(window, 3);
    window.ack({ for: 'id-2' });
    expect(window.reset().map((e) => e.id)).toEqual(['id-1', 'id-3']);
    expect(window.inflight).toBe(0);
    expect(window.nextSeq).toBe(1);
    expect(window.ack({ for: 'id-1' })).toEqual([]);
    expect(window.push('fresh', () => 'x').seq).toBe(1);
  });
});

/** One direction of a link that loses, duplicates and reorders what it carries. */
class LossyLink<T> {
  readonly #queue: { at: number; order: number; value: T }[] = [];

  constructor(
    private readonly rng: Rng,
    private readonly loss: number,
    private readonly duplication: number,
    private readonly maxDelay: number,
  ) {}

  send(now: number, value: T): void {
    if (this.rng.next() < this.loss) return;
    const copies = this.rng.next() < this.duplication ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.#queue.push({ at: now + this.rng.int(1, this.maxDelay), order: this.rng.next(), value });
    }
  }

  /** Everything due by `now`, in arrival order (ties in random order). */
  receive(now: number): T[] {
    const due = this.#queue.filter((p) => p.at <= now).sort((a, b) => a.at - b.at || a.order - b.order);
    for (const packet of due) this.#queue.splice(this.#queue.indexOf(packet), 1);
    return due.map((p) => p.value);
  }
}

interface Wire {
  seq: number;
  id: string;
  body: number;
}

interface SimulationOptions {
  seed: number;
  frames: number;
  senderSize: number;
  receiverSize: number;
  loss: number;
  duplication: number;
}

/**
 * Drives a SendWindow and a ReceiveWindow over two lossy links, the way the
 * session layer does: every received frame is acked with the receiver's
 * state and `for` its id; unacked frames are resent after a timeout.
 */
function simulate(options: SimulationOptions) {
  const rng = createRng(options.seed);
  const data = new LossyLink<Wire>(rng, options.loss, options.duplication, 8);
  const acks = new LossyLink<AckState & { for: string }>(rng, options.loss, options.duplication, 8);
  const sender = new SendWindow<Wire>(options.senderSize);
  const receiver = new ReceiveWindow<number>(options.receiverSize);
  const lastSent = new Map<number, number>();
  const delivered: number[] = [];
  const statuses = { accepted: 0, duplicate: 0, beyond: 0 };
  const retransmitAfter = 24;
  let next = 0;
  let now = 0;
  for (; now < 200_000; now++) {
    for (const frame of data.receive(now)) {
      const result = receiver.offer(frame.seq, frame.body);
      statuses[result.status]++;
      delivered.push(...result.delivered);
      acks.send(now, { ...receiver.ackState(), for: frame.id });
    }
    for (const ack of acks.receive(now)) {
      for (const entry of sender.ack(ack)) lastSent.delete(entry.seq);
      sender.size = ack.recv_window;
    }
    for (const entry of sender.pending()) {
      if (now - (lastSent.get(entry.seq) ?? 0) >= retransmitAfter) {
        data.send(now, entry.item);
        lastSent.set(entry.seq, now);
      }
    }
    while (sender.hasCredit && next < options.frames) {
      const body = next++;
      const entry = sender.push(`frame-${body}`, (seq) => ({ seq, id: `frame-${body}`, body }));
      data.send(now, entry.item);
      lastSent.set(entry.seq, now);
    }
    if (delivered.length === options.frames && sender.inflight === 0) break;
  }
  return { delivered, statuses, sender, receiver, ticks: now };
}

/** Asserts `delivered` is exactly 0..count−1, reporting a short summary rather than a huge diff. */
function expectExactlyInOrder(delivered: number[], count: number): void {
  const firstWrong = delivered.findIndex((value, index) => value !== index);
  expect({ length: delivered.length, firstWrong }).toEqual({ length: count, firstWrong: -1 });
}

describe('SendWindow + ReceiveWindow over a lossy, duplicating, reordering link', () => {
  it.each([
    { seed: 1, frames: 3000, senderSize: 16, receiverSize: 16, loss: 0.2, duplication: 0.1 },
    { seed: 2, frames: 3000, senderSize: 64, receiverSize: 64, loss: 0.1, duplication: 0.2 },
    { seed: 3, frames: 2000, senderSize: 4, receiverSize: 4, loss: 0.3, duplication: 0.3 },
    { seed: 4, frames: 1000, senderSize: 1, receiverSize: 1, loss: 0.2, duplication: 0.1 },
  ])('delivers everything exactly once, in order, never beyond the window (seed $seed, W=$receiverSize)', (options) => {
    const { delivered, statuses, sender, receiver } = simulate(options);
    expectExactlyInOrder(delivered, options.frames);
    expect(sender.inflight).toBe(0);
    expect(receiver.base).toBe(options.frames);
    expect(receiver.buffered).toBe(0);
    expect(statuses.duplicate).toBeGreaterThan(0);
    expect(statuses.beyond).toBe(0);
  });

  it('recovers when the sender starts with more credit than the receiver has room', () => {
    const options = { seed: 5, frames: 2000, senderSize: 64, receiverSize: 8, loss: 0.15, duplication: 0.1 };
    const { delivered, statuses, sender } = simulate(options);
    // Frames past the receiver's window are dropped but acked by id; they must still arrive.
    expect(statuses.beyond).toBeGreaterThan(0);
    expectExactlyInOrder(delivered, options.frames);
    expect(sender.inflight).toBe(0);
    expect(sender.size).toBe(8);
  });
});
