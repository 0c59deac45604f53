import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AstraError } from './astra-error.js';
import { ErrorCode } from './error-codes.js';
import { envelopeIsValid, payloadIsValid } from './fast-checks.js';
import { isKnownFrameType, payloadSchemas, type Frame, type PayloadOf } from './payload-schemas.js';
import { EnvelopeSchema, type Sender } from './schemas/envelope.js';

/** Envelope fields of an outbound frame. */
export interface BuildFrameOptions {
  sender: Sender;
  tenant: string;
  /** Defaults to a fresh UUID: unique for the life of the process and beyond. */
  id?: string;
  /** Defaults to now. */
  ts?: Date | string;
  corr?: string | null;
  /** Legacy sequence; replies echo the request's. */
  seq?: number | null;
  /** Reliable-stream sequence; set by the session layer, never on `control.*`. */
  sessionSeq?: number;
  /** Ask the peer for a `control.ack`. */
  ackRequest?: boolean;
  /** On acks: the id of the acknowledged frame. */
  ackFor?: string;
  flags?: string[];
}

function describeIssues(error: z.ZodError, prefix: string): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Builds an outbound frame and validates its payload against the schema of
 * `type`, and the finished envelope against the envelope schema, so that
 * nothing leaves the worker that a scheduler would refuse. An invalid
 * payload or envelope field is a bug in the caller and throws an
 * {@link AstraError} with code `E.FRAME.INVALID`.
 */
export function buildFrame<T extends string>(type: T, payload: PayloadOf<T>, options: BuildFrameOptions): Frame<T> {
  let checked: unknown = payload;
  // The hot-path types (acks, results) have a fast check that accepts only what the schema accepts.
  if (isKnownFrameType(type) && !payloadIsValid(type, payload)) {
    const result = payloadSchemas[type].safeParse(payload);
    if (!result.success) {
      throw new AstraError(
        ErrorCode.FRAME_INVALID,
        `refusing to send invalid ${type}: ${describeIssues(result.error, 'payload')}`,
        { details: { type } },
      );
    }
    checked = result.data;
  }
  const ts = options.ts ?? new Date();
  const frame: Record<string, unknown> = {
    type,
    id: options.id ?? randomUUID(),
    ts: typeof ts === 'string' ? ts : ts.toISOString(),
    tenant: options.tenant,
    sender: options.sender,
    payload: checked,
  };
  if (options.corr !== undefined) frame.corr = options.corr;
  if (options.seq !== undefined) frame.seq = options.seq;
  if (options.sessionSeq !== undefined) frame.session_seq = options.sessionSeq;
  if (options.ackRequest !== undefined || options.ackFor !== undefined) {
    frame.ack = {
      ...(options.ackFor !== undefined ? { for: options.ackFor } : {}),
      ...(options.ackRequest !== undefined ? { request: options.ackRequest } : {}),
    };
  }
  if (options.flags !== undefined) frame.flags = options.flags;
  const envelope = envelopeIsValid(frame) ? undefined : EnvelopeSchema.safeParse(frame);
  if (envelope?.success === false) {
    throw new AstraError(
      ErrorCode.FRAME_INVALID,
      `refusing to send ${type} with an invalid envelope: ${describeIssues(envelope.error, '')}`,
      { details: { type } },
    );
  }
  return frame as Frame<T>;
}
