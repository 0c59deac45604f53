import { ArtifactSchema, AstraError, ErrorCode } from '@astraflow/protocol';
import type { Artifact, TaskStatus } from '@astraflow/protocol';
import { isPlainRecord, toJsonValue } from './json-value.js';

/** A handler's return value in the shape `biz.exec.result` needs. */
export interface NormalizedResult {
  status: TaskStatus;
  /** Becomes `biz.exec.result.result`. */
  outputs: Record<string, unknown>;
  /** Handler-supplied metadata, merged over the runner's own in the result payload. */
  metadata?: Record<string, unknown>;
  artifacts?: Artifact[];
  /** Present when the status word was not recognised (the status is then `FAILED`). */
  error?: { code: string; message: string };
}

const STATUS_WORDS: Readonly<Record<string, TaskStatus>> = {
  SUCCESS: 'SUCCEEDED',
  SUCCEEDED: 'SUCCEEDED',
  OK: 'SUCCEEDED',
  DONE: 'SUCCEEDED',
  ALLOWED: 'SUCCEEDED',
  // A policy node that blocks has still done its job; the block is in its outputs.
  BLOCKED: 'SUCCEEDED',
  ERROR: 'FAILED',
  FAIL: 'FAILED',
  FAILED: 'FAILED',
  CANCEL: 'CANCELLED',
  CANCELLED: 'CANCELLED',
  CANCELED: 'CANCELLED',
  SKIP: 'SKIPPED',
  SKIPPED: 'SKIPPED',
};

const RESERVED_KEYS = new Set(['status', 'outputs', 'metadata', 'artifacts']);

/**
 * Maps a handler's status word to a task status, case-insensitively.
 * `undefined`/`null` mean success; an unrecognised word (or a non-string)
 * yields `undefined` so the caller can report it.
 *
 * @example
 * ```ts
 * normalizeStatus('ok'); // 'SUCCEEDED'
 * normalizeStatus('nope'); // undefined
 * ```
 */
export function normalizeStatus(word: unknown): TaskStatus | undefined {
  if (word === undefined || word === null) return 'SUCCEEDED';
  if (typeof word !== 'string') return undefined;
  return STATUS_WORDS[word.trim().toUpperCase()];
}

function wrapOutputs(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (isPlainRecord(value)) return value;
  return { value };
}

function parseArtifacts(value: unknown): Artifact[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    throw new AstraError(ErrorCode.RUNNER_FAILURE, `handler result: artifacts must be an array, got ${typeof value}`);
  }
  return value.map((item: unknown, index) => {
    const parsed = ArtifactSchema.safeParse(item);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues
      .map((issue) => `${[`artifacts[${index}]`, ...issue.path.map(String)].join('.')}: ${issue.message}`)
      .join('; ');
    throw new AstraError(ErrorCode.RUNNER_FAILURE, `handler result: invalid artifact (${issues})`);
  });
}

/**
 * Turns whatever a handler returned into a {@link NormalizedResult}.
 *
 * - An object `{status?, outputs?, metadata?, artifacts?}`: when `outputs`
 *   is absent, every other member is the outputs.
 * - `undefined`/`null` → outputs `{}`; any other non-object (string, number,
 *   array, …) → outputs `{value: x}`; a non-object `outputs` is wrapped the same way.
 * - Status words: see {@link normalizeStatus}; an unknown word gives `FAILED`
 *   with `error` explaining why.
 *
 * Throws `E.RUNNER.FAILURE` when anything cannot be serialised to JSON
 * (BigInt, functions, symbols, NaN/Infinity, circular references, Map/Set),
 * when `metadata` is not an object, or when an artifact is invalid.
 */
export function normalizeResult(value: unknown): NormalizedResult {
  const json = toJsonValue(value, 'handler result');
  if (!isPlainRecord(json)) return { status: 'SUCCEEDED', outputs: wrapOutputs(json) };

  const result: NormalizedResult = { status: 'SUCCEEDED', outputs: {} };
  const status = normalizeStatus(json.status);
  if (status === undefined) {
    result.status = 'FAILED';
    result.error = {
      code: ErrorCode.RUNNER_FAILURE,
      message: `handler returned an unknown status ${JSON.stringify(json.status)}`,
    };
  } else {
    result.status = status;
  }

  if (json.outputs !== undefined) {
    result.outputs = wrapOutputs(json.outputs);
  } else {
    const rest: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(json)) {
      if (!RESERVED_KEYS.has(key)) rest[key] = member;
    }
    result.outputs = rest;
  }

  if (json.metadata !== undefined && json.metadata !== null) {
    if (!isPlainRecord(json.metadata)) {
      throw new AstraError(ErrorCode.RUNNER_FAILURE, 'handler result: metadata must be an object');
    }
    result.metadata = json.metadata;
  }

  const artifacts = parseArtifacts(json.artifacts);
  if (artifacts !== undefined) result.artifacts = artifacts;
  return result;
}
