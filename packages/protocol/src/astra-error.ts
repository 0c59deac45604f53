import { errorMessage } from './error-message.js';
import type { ErrorCodeValue } from './error-codes.js';

const BRAND = Symbol.for('@astraflow/AstraError');

/** Options for {@link AstraError}. */
export interface AstraErrorOptions {
  /** The underlying error, kept for logs; never sent on the wire as is. */
  cause?: unknown;
  /** Structured, JSON-safe details (for `biz.pkg.event.details`, `biz.exec.error.context.details`). */
  details?: Record<string, unknown>;
}

/**
 * The one error type of the AstraFlow worker. Every failure that crosses a
 * package boundary is an `AstraError` with a stable {@link ErrorCode} string;
 * unknown throws are wrapped once, at the boundary, with {@link AstraError.wrap}.
 *
 * `isInstance` works across duplicated copies of this package (it checks a
 * global symbol brand rather than the prototype chain).
 */
export class AstraError extends Error {
  /** Stable code, e.g. `E.PKG.INVALID`. */
  readonly code: ErrorCodeValue | (string & {});
  /** JSON-safe structured details. */
  readonly details: Record<string, unknown> | undefined;
  readonly [BRAND] = true;

  constructor(code: ErrorCodeValue | (string & {}), message: string, options: AstraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AstraError';
    this.code = code;
    this.details = options.details;
  }

  /** True when `value` is an `AstraError` from any copy of this package. */
  static isInstance(value: unknown): value is AstraError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  /**
   * Returns `value` unchanged when it already is an `AstraError`; otherwise
   * wraps it with `code`, using the thrown value's message where it has one.
   */
  static wrap(value: unknown, code: ErrorCodeValue | (string & {}), message?: string): AstraError {
    if (AstraError.isInstance(value)) return value;
    const text = message ?? errorMessage(value);
    return new AstraError(code, text || code, { cause: value });
  }

  /** A JSON-safe view `{code, message, details?}` fit for logs and wire payloads. */
  toJSON(): { code: string; message: string; details?: Record<string, unknown> } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}
