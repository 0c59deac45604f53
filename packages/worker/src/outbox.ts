import type { PayloadOf } from '@astraflow/protocol';
import type { OutboundReceipt, SendOptions } from './session/session-types.js';

/**
 * The one path by which business frames leave the worker. The session
 * implements it; a durable outbox (persisting answers until acked) can wrap
 * it without touching any handler.
 */
export interface Outbox {
  send<T extends string>(type: T, payload: PayloadOf<T>, options?: SendOptions): Promise<OutboundReceipt>;
}
