/**
 * The `E.*` codes of docs/protocol.md §7. They go on the wire unchanged.
 */
export const ProtocolErrorCode = {
  // Session
  AUTH_INVALID_TOKEN: 'E.AUTH.INVALID_TOKEN',
  AUTH_MISSING_TOKEN: 'E.AUTH.MISSING_TOKEN',
  AUTH_MTLS_REQUIRED: 'E.AUTH.MTLS_REQUIRED',
  AUTH_HANDSHAKE_REQUIRED: 'E.AUTH.HANDSHAKE_REQUIRED',
  AUTH_UNAUTHENTICATED: 'E.AUTH.UNAUTHENTICATED',
  AUTH_MODE_UNSUPPORTED: 'E.AUTH.MODE_UNSUPPORTED',
  SESSION_UNKNOWN: 'E.SESSION.UNKNOWN',
  SESSION_MISMATCH: 'E.SESSION.MISMATCH',
  SESSION_INVALID_TOKEN: 'E.SESSION.INVALID_TOKEN',
  SESSION_TENANT_MISMATCH: 'E.SESSION.TENANT_MISMATCH',
  SESSION_NOT_REGISTERED: 'E.SESSION.NOT_REGISTERED',
  SESSION_STALE_BINDING: 'E.SESSION.STALE_BINDING',
  SESSION_DENIED: 'E.SESSION.DENIED',
  // Commands (docs/protocol.md §7)
  CMD_UNKNOWN: 'E.CMD.UNKNOWN',
  CMD_CONCURRENCY_VIOLATION: 'E.CMD.CONCURRENCY_VIOLATION',
  RUNNER_FAILURE: 'E.RUNNER.FAILURE',
  RUNNER_CANCELLED: 'E.RUNNER.CANCELLED',
  RESOURCE_MISSING: 'E.RESOURCE.MISSING',
  RESULT_DUPLICATE: 'E.RESULT.DUPLICATE',
  RESULT_SEQ_GAP: 'E.RESULT.SEQ_GAP',
  PKG_INVALID: 'E.PKG.INVALID',
  PKG_PERMISSION: 'E.PKG.PERMISSION',
  INTERNAL: 'E.INTERNAL',
  TIMEOUT: 'E.TIMEOUT',
} as const;

/** Codes of this implementation that are not part of docs/protocol.md §7. */
export const LocalErrorCode = {
  /** A frame failed JSON parsing or schema validation. */
  FRAME_INVALID: 'E.FRAME.INVALID',
  /** A frame exceeded the configured maximum size. */
  FRAME_TOO_LARGE: 'E.FRAME.TOO_LARGE',
  /** A settings source held an invalid value. */
  CONFIG_INVALID: 'E.CONFIG.INVALID',
  /** The transport could not connect or lost its connection. */
  TRANSPORT_FAILURE: 'E.TRANSPORT.FAILURE',
  /** The package archive could not be downloaded. */
  PKG_DOWNLOAD: 'E.PKG.DOWNLOAD',
  /** The archive's sha256 did not match the command's. */
  PKG_CHECKSUM: 'E.PKG.CHECKSUM',
  /** The manifest asks for a runtime this worker does not have. */
  PKG_RUNTIME_UNSUPPORTED: 'E.PKG.RUNTIME_UNSUPPORTED',
  /** No installed package/version/node type matches a lookup. */
  PKG_NOT_FOUND: 'E.PKG.NOT_FOUND',
  /** A handler was asked for while its package is being uninstalled. */
  PKG_UNINSTALLING: 'E.PKG.UNINSTALLING',
} as const;

/** Every code: {@link ProtocolErrorCode} (docs/protocol.md §7) plus {@link LocalErrorCode}. */
export const ErrorCode = { ...ProtocolErrorCode, ...LocalErrorCode } as const;

/** Any value of {@link ErrorCode}. Other strings are allowed where a peer sends codes we do not know. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Why a task that did not run was refused (`context.details.reason` of an
 * `E.RUNNER.CANCELLED` answer, docs/protocol.md §6). The existing scheduler retries
 * only `E.RUNNER.CANCELLED`, so every such refusal carries that code and one
 * of these reasons instead of a code of its own.
 */
export const RefusalReason = {
  DRAINING: 'draining',
  SHUTDOWN: 'shutdown',
  OVERFLOW: 'overflow',
  COOLDOWN: 'cooldown',
  OVERLOADED: 'overloaded',
  /** Accepted before a crash or kill of the worker and never finished: answered on the next start. */
  WORKER_RESTART: 'worker_restart',
} as const;

/** Any value of {@link RefusalReason}. */
export type RefusalReasonValue = (typeof RefusalReason)[keyof typeof RefusalReason];

/** True for the `E.AUTH.*` family, which docs/protocol.md §4 classifies as authentication failures. */
export function isAuthErrorCode(code: string): boolean {
  return code.startsWith('E.AUTH.');
}
