import type { Frame } from '@astraflow/protocol';

/**
 * Fault injection: rewrites a numbered frame (session_seq already set) into
 * what actually goes on the wire, on every (re)transmission; e.g. adds an
 * unknown envelope key or breaks the payload, which the scheduler's own
 * validation would otherwise refuse to send. A string is sent as is (for
 * text `JSON.stringify` cannot produce, such as 50 000-deep nesting).
 */
export type FrameTamper = (frame: Frame) => Record<string, unknown> | string;

/** Wire text of a tampered frame that is sent verbatim. */
const RAW_TEXT = Symbol('rawText');

/**
 * The frame kept in the send window for `numbered`: itself without a tamper,
 * else the tampered object (or `numbered` carrying the verbatim text), so
 * every retransmission sends the same bytes.
 */
export function applyTamper(numbered: Frame, tamper: FrameTamper | undefined): Frame {
  if (!tamper) return numbered;
  const tampered = tamper(numbered);
  return (typeof tampered === 'string' ? { ...numbered, [RAW_TEXT]: tampered } : tampered) as unknown as Frame;
}

/** The text that goes on the wire for `frame`: the verbatim text of a string tamper, else its JSON. */
export function wireText(frame: Frame): string {
  return (frame as { [RAW_TEXT]?: string })[RAW_TEXT] ?? JSON.stringify(frame);
}
