import { AstraError, ErrorCode } from '@astraflow/protocol';
import { isPlainRecord, toJsonValue } from './json-value.js';
import type { NextCall, NextOptions } from './types.js';

const OPTION_KEYS = ['hostCtx', 'middlewareCtx', 'timeoutMs'] as const;

/**
 * Validates the arguments of `ctx.next(payload, options)` and returns a JSON
 * copy as a {@link NextCall}; throws `E.RUNNER.FAILURE` on bad input.
 */
export function buildNextCall(payload: unknown, options: NextOptions | undefined): NextCall {
  if (!isPlainRecord(payload)) throw new AstraError(ErrorCode.RUNNER_FAILURE, 'ctx.next payload must be an object');
  const call: NextCall = { payload: toJsonValue(payload, 'ctx.next payload') as Record<string, unknown> };
  if (options === undefined) return call;
  if (!isPlainRecord(options)) throw new AstraError(ErrorCode.RUNNER_FAILURE, 'ctx.next options must be an object');
  for (const key of OPTION_KEYS) {
    const value = options[key];
    if (value === undefined) continue;
    if (key === 'timeoutMs') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
        throw new AstraError(ErrorCode.RUNNER_FAILURE, `ctx.next timeoutMs must be an integer ≥ 1, got ${String(value)}`);
      }
      call.timeoutMs = value;
    } else {
      if (!isPlainRecord(value)) throw new AstraError(ErrorCode.RUNNER_FAILURE, `ctx.next ${key} must be an object`);
      call[key] = toJsonValue(value, `ctx.next ${key}`) as Record<string, unknown>;
    }
  }
  return call;
}
