import { describe, expect, it } from 'vitest';
import { isImpossibleAck } from './ack-check.js';

describe('isImpossibleAck', () => {
  it('flags an ack_seq beyond the highest frame sent', () => {
    expect(isImpossibleAck({ ack_seq: 6 }, 5)).toBe(true);
    expect(isImpossibleAck({ ack_seq: 1 }, 0)).toBe(true);
    expect(isImpossibleAck({ ack_seq: 5 }, 5)).toBe(false);
    expect(isImpossibleAck({ ack_seq: 0 }, 0)).toBe(false);
  });

  it('flags a bitmap bit for a frame never sent', () => {
    // Bit i claims ack_seq + 1 + i.
    expect(isImpossibleAck({ ack_seq: 2, ack_bitmap: 0b100 }, 5)).toBe(false); // claims 5
    expect(isImpossibleAck({ ack_seq: 2, ack_bitmap: 0b1000 }, 5)).toBe(true); // claims 6
    expect(isImpossibleAck({ ack_seq: 0, ack_bitmap: 2 ** 52 }, 10)).toBe(true);
  });

  it('leaves acks without a window part alone (an id-only ack is checked by id)', () => {
    expect(isImpossibleAck({}, 0)).toBe(false);
    expect(isImpossibleAck({ ack_seq: null }, 0)).toBe(false);
  });
});
