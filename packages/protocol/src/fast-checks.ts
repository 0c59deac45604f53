import { isDateTime } from './schemas/common.js';
import { FrameType } from './frame-types.js';

// Hand-written predicates for the frames of the dispatch hot path (envelope,
// ack, dispatch, result). Each one accepts a strict subset of what its zod
// schema accepts: `true` means the schema would accept the value unchanged,
// `false` means "ask the schema" (which then decides, and words the error).
// So they can only make a check faster, never looser; the cross-check tests
// hold them to the JSON Schemas like the zod schemas.

/**
 * A JSON object as JSON.parse or an object literal makes it: not null, not an array, plain
 * prototype, and no own `__proto__` member (zod drops those; the schema path handles them).
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, '__proto__');
}

// Frames sent or received within one millisecond share their `ts`: check each string once.
let lastValidTs = '';
function isValidTs(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (value === lastValidTs) return true;
  if (!isDateTime(value)) return false;
  lastValidTs = value;
  return true;
}

const isNonEmpty = (value: unknown): boolean => typeof value === 'string' && value.length > 0;
const isIntMin = (value: unknown, min: number): boolean => typeof value === 'number' && Number.isInteger(value) && value >= min;
const isOptionalNullable = (value: unknown, check: (v: unknown) => boolean): boolean =>
  value === undefined || value === null || check(value);

/**
 * True when `frame` is certainly a valid envelope (`session/envelope.schema.json`);
 * `false` may also mean valid (the zod schema decides then).
 */
export function envelopeIsValid(frame: unknown): boolean {
  if (!isPlainObject(frame)) return false;
  for (const key in frame) {
    switch (key) {
      case 'type':
      case 'id':
      case 'tenant':
        if (!isNonEmpty(frame[key])) return false;
        break;
      case 'ts':
        if (!isValidTs(frame.ts)) return false;
        break;
      case 'corr':
        if (frame.corr !== undefined && frame.corr !== null && typeof frame.corr !== 'string') return false;
        break;
      case 'seq':
      case 'session_seq':
        if (!isOptionalNullable(frame[key], (v) => isIntMin(v, 0))) return false;
        break;
      case 'sender': {
        const sender = frame.sender;
        if (!isPlainObject(sender)) return false;
        let keys = 0;
        for (const _ in sender) keys++;
        if (keys !== 2 || (sender.role !== 'worker' && sender.role !== 'scheduler') || !isNonEmpty(sender.id)) return false;
        break;
      }
      case 'ack': {
        const ack = frame.ack;
        if (ack === undefined) break;
        if (!isPlainObject(ack)) return false;
        for (const k in ack) {
          if (k === 'for') {
            if (ack.for !== undefined && ack.for !== null && typeof ack.for !== 'string') return false;
          } else if (k === 'request') {
            if (ack.request !== undefined && ack.request !== null && typeof ack.request !== 'boolean') return false;
          } else {
            return false;
          }
        }
        break;
      }
      case 'flags':
        if (frame.flags !== undefined && (!Array.isArray(frame.flags) || !frame.flags.every(isNonEmpty))) return false;
        break;
      case 'payload':
        if (!isPlainObject(frame.payload)) return false;
        break;
      default:
        return false;
    }
  }
  return (
    isNonEmpty(frame.type) &&
    isNonEmpty(frame.id) &&
    typeof frame.ts === 'string' &&
    isNonEmpty(frame.tenant) &&
    frame.sender !== undefined &&
    frame.payload !== undefined
  );
}

function ackPayloadIsValid(p: Record<string, unknown>): boolean {
  for (const key in p) {
    const v = p[key];
    if (v === undefined || v === null) continue;
    switch (key) {
      case 'ok':
        if (typeof v !== 'boolean') return false;
        break;
      case 'for':
      case 'info':
        if (typeof v !== 'string') return false;
        break;
      case 'ack_seq':
      case 'ack_bitmap':
        if (!isIntMin(v, 0)) return false;
        break;
      case 'recv_window':
        if (!isIntMin(v, 1)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

const DISPATCH_REQUIRED = ['run_id', 'task_id', 'node_id', 'node_type', 'package_name', 'package_version'] as const;

/** The common dispatch: the required fields, a concurrency key, a priority; anything rarer goes to the schema. */
function dispatchPayloadIsValid(p: Record<string, unknown>): boolean {
  let known = 0;
  for (const key of DISPATCH_REQUIRED) {
    if (!isNonEmpty(p[key])) return false;
    known++;
  }
  if (!isPlainObject(p.parameters)) return false;
  const constraints = p.constraints;
  if (!isPlainObject(constraints)) return false;
  for (const key in constraints) {
    if (key !== 'timeout_ms' || !(constraints.timeout_ms === undefined || isIntMin(constraints.timeout_ms, 1))) return false;
  }
  known += 2;
  if (p.concurrency_key !== undefined) {
    if (!isNonEmpty(p.concurrency_key)) return false;
    known++;
  }
  if (p.priority !== undefined) {
    if (p.priority !== null && !Number.isSafeInteger(p.priority)) return false;
    known++;
  }
  let keys = 0;
  for (const _ in p) keys++;
  return keys === known;
}

const STATUSES: ReadonlySet<unknown> = new Set(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);

/** A result without artifacts or an error block (those go to the schema). */
function resultPayloadIsValid(p: Record<string, unknown>): boolean {
  for (const key in p) {
    const v = p[key];
    switch (key) {
      case 'run_id':
      case 'task_id':
        if (!isNonEmpty(v)) return false;
        break;
      case 'status':
        if (!STATUSES.has(v)) return false;
        break;
      case 'result':
        if (!isPlainObject(v)) return false;
        break;
      case 'duration_ms':
        if (v !== undefined && !isIntMin(v, 0)) return false;
        break;
      case 'metadata':
        if (v !== undefined && !isPlainObject(v)) return false;
        break;
      default:
        return false;
    }
  }
  return isNonEmpty(p.run_id) && isNonEmpty(p.task_id) && STATUSES.has(p.status) && isPlainObject(p.result);
}

const CHANNELS: ReadonlySet<unknown> = new Set(['stdout', 'stderr', 'log', 'llm', 'metric', 'custom']);

function chunkIsValid(chunk: unknown): boolean {
  if (!isPlainObject(chunk) || !CHANNELS.has(chunk.channel)) return false;
  for (const key in chunk) {
    const v = chunk[key];
    switch (key) {
      case 'channel':
        break;
      case 'index':
        if (v !== undefined && !isIntMin(v, 0)) return false;
        break;
      case 'text':
      case 'mime_type':
      case 'data_base64':
        if (v !== undefined && typeof v !== 'string') return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** Feedback with progress, message and text chunks; metrics, metadata and chunk metadata go to the schema. */
function feedbackPayloadIsValid(p: Record<string, unknown>): boolean {
  for (const key in p) {
    const v = p[key];
    switch (key) {
      case 'run_id':
      case 'task_id':
        if (!isNonEmpty(v)) return false;
        break;
      case 'stage':
        if (v !== undefined && !isNonEmpty(v)) return false;
        break;
      case 'progress':
        if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) return false;
        break;
      case 'message':
        if (v !== undefined && typeof v !== 'string') return false;
        break;
      case 'chunks':
        if (v !== undefined && (!Array.isArray(v) || !v.every(chunkIsValid))) return false;
        break;
      default:
        return false;
    }
  }
  return isNonEmpty(p.run_id) && isNonEmpty(p.task_id);
}

const PAYLOAD_CHECKS: Readonly<Record<string, (payload: Record<string, unknown>) => boolean>> = {
  [FrameType.ACK]: ackPayloadIsValid,
  [FrameType.EXEC_DISPATCH]: dispatchPayloadIsValid,
  [FrameType.EXEC_RESULT]: resultPayloadIsValid,
  [FrameType.EXEC_FEEDBACK]: feedbackPayloadIsValid,
};

/**
 * True when `payload` is certainly valid for `type` (only the hot-path types
 * have a fast check); `false` means the zod schema must decide.
 */
export function payloadIsValid(type: string, payload: unknown): boolean {
  const check = PAYLOAD_CHECKS[type];
  return check !== undefined && isPlainObject(payload) && check(payload);
}
