import { AstraError, ErrorCode, errorMessage, scrubSecrets, type FailureClass } from '@astraflow/protocol';

/** What a connect failure needs to build a safe error. */
export interface ConnectErrorContext {
  /** The target URL, already redacted. */
  url: string;
  /** The bearer token, scrubbed from every message. */
  token?: string;
  /** True for `wss://`, where socket errors may come from the TLS layer. */
  secure: boolean;
}

/** Extra facts about a failed attempt. */
export interface ConnectFailureExtra {
  status?: number;
  cause?: unknown;
  /** Set when the caller's signal aborted the attempt. */
  aborted?: boolean;
  /** Set when the connect timeout fired. */
  timedOut?: boolean;
}

/**
 * Builds the `E.TRANSPORT.FAILURE` error a failed attempt rejects with:
 * `details` carries `failure`, `url` (redacted) and, when known, the HTTP `status`.
 */
export function connectFailure(
  failure: FailureClass,
  message: string,
  ctx: ConnectErrorContext,
  extra: ConnectFailureExtra = {},
): AstraError {
  const details: Record<string, unknown> = { failure, url: ctx.url };
  if (extra.status !== undefined) details['status'] = extra.status;
  if (extra.aborted === true) details['aborted'] = true;
  if (extra.timedOut === true) details['timedOut'] = true;
  return new AstraError(ErrorCode.TRANSPORT_FAILURE, scrubSecrets(message, [ctx.token]), {
    cause: extra.cause,
    details,
  });
}

// Node's TLS layer reports OpenSSL verification results as bare codes (e.g. DEPTH_ZERO_SELF_SIGNED_CERT).
const TLS_CODE = /CERT|SSL|TLS|SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|HOSTNAME|ALTNAME|^EPROTO$/;

// Handshake violations ws reports as plain errors without a code.
const WS_HANDSHAKE_VIOLATION = /^Invalid (Sec-WebSocket|Upgrade)|subprotocol|Sec-WebSocket-Extensions|extension/i;

/**
 * Classifies an error raised while connecting (socket, TLS or WebSocket
 * handshake) into a transport failure. Socket and TLS problems are
 * `network`; a server that breaks the WebSocket handshake is `protocol`.
 */
export function classifyConnectError(err: unknown, ctx: ConnectErrorContext): AstraError {
  const reason = errorMessage(err);
  const code = errorCode(err);
  if (code !== undefined) {
    if (ctx.secure && TLS_CODE.test(code)) {
      return connectFailure('network', `TLS error connecting to ${ctx.url}: ${reason} (${code})`, ctx, { cause: err });
    }
    return connectFailure('network', `cannot connect to ${ctx.url}: ${reason} (${code})`, ctx, { cause: err });
  }
  if (WS_HANDSHAKE_VIOLATION.test(reason)) {
    return connectFailure('protocol', `WebSocket handshake with ${ctx.url} failed: ${reason}`, ctx, { cause: err });
  }
  return connectFailure('network', `cannot connect to ${ctx.url}: ${reason}`, ctx, { cause: err });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code !== '' ? code : undefined;
}
