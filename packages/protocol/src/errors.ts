/**
 * The error part of the protocol alone, as `@astraflow/protocol/errors`: no
 * schemas and no zod, for processes and threads that only raise and read
 * {@link AstraError}s (the registry's import probe starts one per installed
 * package at start-up, so what it loads is start-up time).
 *
 * @example
 * ```ts
 * import { AstraError, ErrorCode } from '@astraflow/protocol/errors';
 * throw new AstraError(ErrorCode.PKG_INVALID, 'no manifest.json');
 * ```
 */
export { AstraError, type AstraErrorOptions } from './astra-error.js';
export { errorMessage } from './error-message.js';
export { ErrorCode, type ErrorCodeValue } from './error-codes.js';
