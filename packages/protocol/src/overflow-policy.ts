/**
 * What a full bounded queue does with one more item: `block` makes the
 * producer wait for room (backpressure), `drop_new` refuses the new item,
 * `drop_oldest` evicts the oldest waiting item to make room.
 */
export const OVERFLOW_POLICIES = ['block', 'drop_new', 'drop_oldest'] as const;

/** One of {@link OVERFLOW_POLICIES}. */
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];
