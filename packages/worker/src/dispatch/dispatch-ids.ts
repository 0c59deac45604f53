import { AstraError, ErrorCode, type ExecDispatchPayload } from '@astraflow/protocol';

/** The key a dispatch is de-duplicated by: its frame `id` and `corr` (a frame, or a replayed record of one). */
export function dedupeKey(frame: { id: string; corr?: string | null | undefined }): string {
  return `${frame.id}\u0000${frame.corr ?? ''}`;
}

/** The run, task and node ids a dispatch names (as far as it could be read), for an answer's `details`. */
export function taskIds(dispatch: Partial<ExecDispatchPayload>): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const key of ['run_id', 'task_id', 'node_id'] as const) {
    const value = dispatch[key];
    if (typeof value === 'string') ids[key] = value;
  }
  return ids;
}

/** True for the error `send()` gives a frame over `max_outbound_frame_bytes`. */
export function isTooLarge(err: unknown): err is AstraError {
  return AstraError.isInstance(err) && err.code === ErrorCode.FRAME_TOO_LARGE;
}
