import { errorMessage } from './error-message.js';
import type { z } from 'zod';
import { ErrorCode } from './error-codes.js';
import { envelopeIsValid, payloadIsValid } from './fast-checks.js';
import { isKnownFrameType, payloadSchemas, type Frame } from './payload-schemas.js';
import { EnvelopeSchema } from './schemas/envelope.js';

/** Why a frame was refused. Never thrown: {@link parseFrame} returns it. */
export interface FrameError {
  code: typeof ErrorCode.FRAME_INVALID | typeof ErrorCode.FRAME_TOO_LARGE;
  /** Which check failed. */
  stage: 'size' | 'json' | 'envelope' | 'payload';
  message: string;
  /** The frame's `type` and `id` when they could be read, for logs and error replies. */
  type?: string;
  id?: string;
  issues?: FrameIssue[];
}

/** One schema violation: a dotted path into the frame and what was wrong there. */
export interface FrameIssue {
  path: string;
  message: string;
}

/** Result of {@link parseFrame}. */
export type ParseFrameResult = { ok: true; frame: Frame } | { ok: false; error: FrameError };

/** Options of {@link parseFrame}. */
export interface ParseFrameOptions {
  /** Refuse text longer than this many UTF-8 bytes before parsing it. */
  maxBytes?: number;
}

function toIssues(error: z.ZodError, prefix: string): FrameIssue[] {
  return error.issues.map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issue.message,
  }));
}

function describe(issues: FrameIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Parses and validates one inbound frame: size, JSON, envelope, then the
 * payload schema chosen by `type`. Frames of types without a schema
 * (`ext.*`, future types) pass with their payload checked only as an object;
 * the router decides what to do with them. Never throws.
 */
export function parseFrame(raw: unknown, options: ParseFrameOptions = {}): ParseFrameResult {
  let value: unknown = raw;
  const ownsValue = typeof raw === 'string' || raw instanceof Uint8Array;
  if (ownsValue) {
    // A string of n UTF-16 units has at most 3n UTF-8 bytes: most frames need no byte count at all.
    const size =
      typeof raw !== 'string'
        ? raw.byteLength
        : options.maxBytes !== undefined && raw.length * 3 <= options.maxBytes
          ? 0
          : Buffer.byteLength(raw, 'utf8');
    if (options.maxBytes !== undefined && size > options.maxBytes) {
      return {
        ok: false,
        error: {
          code: ErrorCode.FRAME_TOO_LARGE,
          stage: 'size',
          message: `frame of ${size} bytes exceeds the limit of ${options.maxBytes} bytes`,
        },
      };
    }
    try {
      value = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
    } catch (err) {
      return {
        ok: false,
        error: { code: ErrorCode.FRAME_INVALID, stage: 'json', message: `not JSON: ${errorMessage(err)}` },
      };
    }
  }
  // Fast checks first (they accept only what the schemas accept); the schemas decide, and word, the rest.
  // Only for a value parsed here: it is returned as is, where the schema path returns a copy.
  if (ownsValue && envelopeIsValid(value)) {
    const frame = value as Frame;
    if (!isKnownFrameType(frame.type) || payloadIsValid(frame.type, frame.payload)) return { ok: true, frame };
  }
  const envelope = EnvelopeSchema.safeParse(value);
  if (!envelope.success) {
    const issues = toIssues(envelope.error, '');
    const partial = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    return {
      ok: false,
      error: {
        code: ErrorCode.FRAME_INVALID,
        stage: 'envelope',
        message: `invalid envelope: ${describe(issues)}`,
        ...(typeof partial.type === 'string' ? { type: partial.type } : {}),
        ...(typeof partial.id === 'string' ? { id: partial.id } : {}),
        issues,
      },
    };
  }
  const frame = envelope.data;
  if (!isKnownFrameType(frame.type)) return { ok: true, frame };
  const payload = payloadSchemas[frame.type].safeParse(frame.payload);
  if (!payload.success) {
    const issues = toIssues(payload.error, 'payload');
    return {
      ok: false,
      error: {
        code: ErrorCode.FRAME_INVALID,
        stage: 'payload',
        message: `invalid ${frame.type} payload: ${describe(issues)}`,
        type: frame.type,
        id: frame.id,
        issues,
      },
    };
  }
  return { ok: true, frame: { ...frame, payload: payload.data } as Frame };
}
