import { describe, expect, it } from 'vitest';
import { FaultLane, noFaults, type LaneSettings } from './faults.js';
import { createPrng } from './prng.js';

const frame = (seq: number) => JSON.stringify({ type: 'biz.exec.result', session_seq: seq });
const session = JSON.stringify({ type: 'control.session.accept' });
const windowAck = JSON.stringify({ type: 'control.ack', payload: { ack_seq: 1 } });
const handshakeAck = JSON.stringify({ type: 'control.ack', payload: { for: 'hs' } });

/** A PRNG that replays fixed draws. */
const draws =
  (...values: number[]) =>
  () => {
    const next = values.shift();
    if (next === undefined) throw new Error('ran out of draws');
    return next;
  };

function lane(settings: Partial<LaneSettings>, random: () => number) {
  const out: string[] = [];
  const faults: string[] = [];
  const full: LaneSettings = { drop: 0, dup: 0, reorder: 0, delayMs: 0, scope: 'reliable', ...settings };
  const l = new FaultLane(
    () => full,
    random,
    (t) => out.push(t),
    (kind) => faults.push(kind),
  );
  return { l, out, faults, full };
}

describe('FaultLane', () => {
  it('drops, duplicates and reorders reliable frames as the draws say', () => {
    // frame1: drop draw 0.1 < 0.5 → dropped.
    // frame2: drop 0.9, dup 0.1 → two copies; copy 1 reorder 0.1 → held; copy 2 reorder skipped (already holding) → out, then held.
    // frame3: drop 0.9, dup 0.9, reorder 0.9 → out.
    const { l, out, faults } = lane({ drop: 0.5, dup: 0.5, reorder: 0.5 }, draws(0.1, 0.9, 0.1, 0.1, 0.9, 0.9, 0.9));
    l.push(frame(1));
    l.push(frame(2));
    l.push(frame(3));
    expect(out).toEqual([frame(2), frame(2), frame(3)]);
    expect(faults).toEqual(['drop', 'dup', 'reorder']);
  });

  it('lets a held frame pass after the next one, whatever its kind', () => {
    const { l, out } = lane({ reorder: 1 }, draws(0));
    l.push(frame(1));
    expect(out).toEqual([]);
    l.push(session);
    expect(out).toEqual([session, frame(1)]);
  });

  it('leaves session frames and their acks alone in the reliable scope, but not in scope all', () => {
    const reliable = lane({ drop: 1 }, draws(0));
    reliable.l.push(session);
    reliable.l.push(handshakeAck);
    reliable.l.push('not json');
    reliable.l.push(windowAck);
    expect(reliable.out).toEqual([session, handshakeAck, 'not json']);

    const all = lane({ drop: 1, scope: 'all' }, draws(0, 0));
    all.l.push(session);
    all.l.push(handshakeAck);
    expect(all.out).toEqual([]);
  });

  it('delays frames in order, flushes a held frame on demand and discards everything on dispose', async () => {
    const { l, out } = lane({ delayMs: 5, reorder: 1 }, draws(0, 0));
    l.push(frame(1)); // held
    l.flushHeld();
    l.push(frame(2)); // held again
    await expect.poll(() => out).toEqual([frame(1)]);
    l.dispose();
    l.push(frame(3));
    await new Promise((r) => setTimeout(r, 20));
    expect(out).toEqual([frame(1)]);
  });

  it('releases a frame held with no successor after a while', async () => {
    const { l, out } = lane({ reorder: 1 }, draws(0));
    l.push(frame(1));
    await expect.poll(() => out, { timeout: 1000 }).toEqual([frame(1)]);
  });
});

describe('createPrng', () => {
  it('replays the same sequence for the same seed, in [0, 1)', () => {
    const a = createPrng(42);
    const b = createPrng(42);
    const c = createPrng(43);
    const seqA = Array.from({ length: 100 }, a);
    expect(Array.from({ length: 100 }, b)).toEqual(seqA);
    expect(Array.from({ length: 100 }, c)).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(seqA).size).toBe(100);
  });
});

describe('noFaults', () => {
  it('starts clean and in the reliable scope', () => {
    expect(noFaults()).toMatchObject({ dropIn: 0, dropOut: 0, withholdAcks: false, scope: 'reliable' });
  });
});
