/**
 * Worker session states (docs/protocol.md §3):
 * `NEW → HANDSHAKING → REGISTERED → READY → DRAINING → CLOSED`, with any
 * failure going through `BACKOFF` back to `NEW`.
 */
export type SessionState = 'NEW' | 'HANDSHAKING' | 'REGISTERED' | 'READY' | 'DRAINING' | 'BACKOFF' | 'CLOSED';

/** States in which business frames flow. */
export function isOpenState(state: SessionState): boolean {
  return state === 'READY' || state === 'DRAINING';
}
