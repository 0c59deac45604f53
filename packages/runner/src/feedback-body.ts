import { AstraError, ErrorCode, ExecFeedbackPayloadSchema, FrameType, payloadIsValid } from '@astraflow/protocol';
import { isPlainRecord, toJsonValue } from './json-value.js';
import type { FeedbackBody, FeedbackChannelName } from './types.js';

const BodySchema = ExecFeedbackPayloadSchema.omit({ run_id: true, task_id: true });

const CHANNELS: ReadonlySet<string> = new Set<FeedbackChannelName>(['stdout', 'stderr', 'log', 'llm', 'metric', 'custom']);

/**
 * Validates a handler's feedback body and returns a JSON copy of it, so a
 * handler that mutates its object afterwards cannot change what is queued.
 * Throws `E.RUNNER.FAILURE` describing the first problem (bad input is
 * refused at the call, not discovered later on the wire).
 */
export function parseFeedbackBody(body: unknown): FeedbackBody {
  if (!isPlainRecord(body)) {
    throw new AstraError(ErrorCode.RUNNER_FAILURE, 'feedback body must be an object');
  }
  const copy = toJsonValue(body, 'feedback body') as Record<string, unknown>;
  // The common body (progress, message, text chunks) passes the protocol's fast check; the schema judges the rest.
  if (
    !Object.hasOwn(copy, 'run_id') &&
    !Object.hasOwn(copy, 'task_id') &&
    payloadIsValid(FrameType.EXEC_FEEDBACK, { ...copy, run_id: '-', task_id: '-' })
  ) {
    return copy as FeedbackBody;
  }
  const parsed = BodySchema.safeParse(copy);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((issue) => `${issue.path.length > 0 ? issue.path.map(String).join('.') : 'body'}: ${issue.message}`)
      .join('; ');
    throw new AstraError(ErrorCode.RUNNER_FAILURE, `invalid feedback body (${issues})`);
  }
  return parsed.data;
}

/** Checks the arguments of `emitText` (a string and a known channel). */
export function checkTextChunk(text: unknown, channel: unknown): asserts channel is FeedbackChannelName {
  if (typeof text !== 'string') {
    throw new AstraError(ErrorCode.RUNNER_FAILURE, `emitText expects a string, got ${typeof text}`);
  }
  if (typeof channel !== 'string' || !CHANNELS.has(channel)) {
    throw new AstraError(
      ErrorCode.RUNNER_FAILURE,
      `emitText channel must be one of ${[...CHANNELS].join(', ')}, got ${JSON.stringify(channel)}`,
    );
  }
}
