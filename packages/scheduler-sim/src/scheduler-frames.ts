import { createHmac, timingSafeEqual } from 'node:crypto';
import { buildFrame, FrameType, type AckState, type Frame } from '@astraflow/protocol';

/** Who a scheduler double speaks as. */
export interface SchedulerIdentity {
  tenant: string;
  /** `sender.id` of every frame the scheduler sends. */
  senderId: string;
}

/**
 * Builds the `control.ack` a scheduler returns for `frame`. Session frames
 * (handshake, register, resume) get `{ok, for}`; reliable-stream frames also
 * carry the receive window's `ack_seq`/`ack_bitmap`/`recv_window`, and
 * `for` / `ack.for` only when the frame asked for an ack. `corr` repeats the
 * acknowledged frame's, as docs/protocol.md §2 asks.
 */
export function buildAckFrame(identity: SchedulerIdentity, frame: Frame, window?: AckState): Frame<'control.ack'> {
  const named = window === undefined || frame.ack?.request === true;
  const payload = {
    ok: true,
    ...(window ?? {}),
    ...(named ? { for: frame.id } : {}),
  };
  return buildFrame(FrameType.ACK, payload, {
    sender: { role: 'scheduler', id: identity.senderId },
    tenant: identity.tenant,
    ...(frame.corr !== undefined ? { corr: frame.corr } : {}),
    ...(named ? { ackFor: frame.id } : {}),
  });
}

/** The session token of `sessionId`: hex HMAC-SHA256 keyed by `secret`. */
export function signSessionToken(secret: string | Uint8Array, sessionId: string): string {
  return createHmac('sha256', secret).update(sessionId).digest('hex');
}

/** Constant-time check that `token` is the session token of `sessionId`. */
export function verifySessionToken(secret: string | Uint8Array, sessionId: string, token: string): boolean {
  const expected = Buffer.from(signSessionToken(secret, sessionId), 'utf8');
  const given = Buffer.from(token, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
