/**
 * True when an ack claims frames that were never sent: `ack_seq` beyond the
 * highest sequence number sent, or an `ack_bitmap` bit for a frame past it.
 * Trusting such an ack would mark pending answers delivered that the
 * scheduler never saw; they would never be sent again.
 *
 * @param highestSent - the highest `session_seq` sent in this session (0 before the first)
 */
export function isImpossibleAck(ack: { ack_seq?: number | null; ack_bitmap?: number | null }, highestSent: number): boolean {
  const ackSeq = ack.ack_seq;
  if (typeof ackSeq !== 'number') return false;
  if (ackSeq > highestSent) return true;
  const bitmap = ack.ack_bitmap;
  if (typeof bitmap !== 'number' || !Number.isSafeInteger(bitmap) || bitmap <= 0) return false;
  // Highest set bit i claims frame ack_seq + 1 + i.
  const highestBit = bitmap.toString(2).length - 1;
  return ackSeq + 1 + highestBit > highestSent;
}
