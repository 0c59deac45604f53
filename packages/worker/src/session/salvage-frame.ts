import { isControlType, type Frame, type FrameError } from '@astraflow/protocol';

/** Longest payload string kept as an identifier of a refused frame. */
const MAX_ID_CHARS = 256;

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * What can still be read of a numbered business frame that failed its size,
 * envelope or payload check: its place in the stream (`session_seq`) and
 * the identifiers needed to answer it (type, id, corr, and the payload's
 * short top-level strings such as `task_id` or `name`). Such a frame must
 * still take its turn in the receive window, be acked and, for a command,
 * be answered; dropping it would hold every later frame back forever.
 * Returns undefined when no positive `session_seq` can be read, or the
 * frame is a session (`control.*`) frame, which is not numbered.
 *
 * @param raw - the text as received (bounded by the transport's hard ceiling)
 * @param error - why {@link parseFrame} refused it
 */
export function salvageNumbered(raw: string, error: FrameError): Frame | undefined {
  if (error.stage === 'json') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const env = record(value);
  if (!env) return undefined;
  const seq = env.session_seq;
  const type = env.type;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof type !== 'string' || type === '' || isControlType(type)) return undefined;
  const payload: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(record(env.payload) ?? {})) {
    if (typeof inner === 'string' && inner.length <= MAX_ID_CHARS) payload[key] = inner;
  }
  const sender = record(env.sender);
  return {
    type,
    id: typeof env.id === 'string' && env.id !== '' ? env.id.slice(0, MAX_ID_CHARS) : `session-seq-${seq}`,
    ts: typeof env.ts === 'string' ? env.ts : new Date().toISOString(),
    corr: typeof env.corr === 'string' ? env.corr.slice(0, MAX_ID_CHARS) : null,
    ...(typeof env.seq === 'number' && Number.isSafeInteger(env.seq) && env.seq >= 0 ? { seq: env.seq } : {}),
    session_seq: seq,
    ...(record(env.ack)?.request === true ? { ack: { request: true } } : {}),
    tenant: typeof env.tenant === 'string' ? env.tenant : '',
    sender: { role: 'scheduler', id: typeof sender?.id === 'string' ? sender.id : '' },
    payload,
  } as Frame;
}
