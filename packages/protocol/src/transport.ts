import type { AstraError } from './astra-error.js';

/**
 * How a connection failure is classified (docs/protocol.md §4): `auth` (HTTP
 * 401/403 on upgrade, `E.AUTH.*` resets), `protocol` (HTTP 400/404/426, a
 * protocol violation) or `network` (everything else). `none` marks a normal
 * closure (code 1000), whichever side asked for it.
 */
export type FailureClass = 'auth' | 'protocol' | 'network' | 'none';

/** Why a connection ended. */
export interface TransportCloseInfo {
  /** WebSocket close code (1006 when the connection dropped without one). */
  code: number;
  reason: string;
  failure: FailureClass;
  /** The error behind an abnormal close, if any. */
  error?: AstraError;
}

/** Callbacks a transport calls for one connection. */
export interface TransportHandlers {
  /** One inbound text frame, exactly as received. */
  onMessage(data: string): void;
  /** The connection ended; called exactly once per established connection. */
  onClose(info: TransportCloseInfo): void;
}

/** Options for one connection attempt. */
export interface TransportConnectOptions {
  /** Aborts a pending connection attempt. */
  signal?: AbortSignal;
}

/** One established connection. */
export interface TransportConnection {
  /** Sends one text frame. Resolves once handed to the socket; rejects if the connection is gone. */
  send(data: string): Promise<void>;
  /** Closes the connection; `onClose` follows. */
  close(code?: number, reason?: string): void;
  /** False once the connection has closed or begun to close. */
  readonly isOpen: boolean;
}

/**
 * A way to reach a scheduler. The worker's session layer calls `connect` for
 * every (re)connection attempt. A failed attempt rejects with an
 * `AstraError` (code `E.TRANSPORT.FAILURE`) whose `details.failure` is a
 * {@link FailureClass} and `details.status` the HTTP status, if any.
 *
 * Implement this to carry the protocol over something other than WebSocket;
 * `@astraflow/transport-ws` and `@astraflow/transport-dummy` are the two
 * first-party implementations.
 */
export interface Transport {
  /** Short name for logs, e.g. `websocket`. */
  readonly name: string;
  connect(handlers: TransportHandlers, options?: TransportConnectOptions): Promise<TransportConnection>;
}

/** Classifies an HTTP status from a refused WebSocket upgrade (docs/protocol.md §4). */
export function classifyHttpStatus(status: number): FailureClass {
  if (status === 401 || status === 403) return 'auth';
  if (status === 400 || status === 404 || status === 426) return 'protocol';
  return 'network';
}

/** Classifies a WebSocket close code: 1002/1003/1007/1009 are protocol violations, 4401/4403 auth, the rest network. */
export function classifyCloseCode(code: number): FailureClass {
  if (code === 1000) return 'none';
  if (code === 4401 || code === 4403) return 'auth';
  if (code === 1002 || code === 1003 || code === 1007 || code === 1009) return 'protocol';
  return 'network';
}
