import { FrameType, isControlType, parseFrame, type Frame } from '@astraflow/protocol';

/** Frame types only a scheduler may send; a worker sending one breaks the protocol. */
const SCHEDULER_ONLY_TYPES: ReadonlySet<string> = new Set([
  FrameType.SESSION_ACCEPT,
  FrameType.RESET,
  FrameType.DRAIN,
  FrameType.EXEC_DISPATCH,
  FrameType.EXEC_NEXT_RESPONSE,
  FrameType.PKG_INSTALL,
  FrameType.PKG_UNINSTALL,
]);

/** Result of {@link checkWorkerFrame}: the frame, or a one-line description of what is wrong with it. */
export type WorkerFrameCheck =
  | { ok: true; frame: Frame }
  | {
      ok: false;
      violation: string;
      /** The parsed frame when only the worker-side rules failed (the schema passed). */
      frame?: Frame;
    };

/** Options of {@link checkWorkerFrame}. */
export interface CheckWorkerFrameOptions {
  /** The tenant every worker frame must carry. */
  tenant: string;
}

/**
 * Validates one frame as a scheduler receives it from a worker: the schema
 * checks of `parseFrame`, then the rules the schemas cannot express —
 * `sender.role` is `worker`, the tenant matches, `session_seq` is present
 * (≥ 1) exactly on non-control frames, and the type is one a worker may send.
 */
export function checkWorkerFrame(raw: string, options: CheckWorkerFrameOptions): WorkerFrameCheck {
  const parsed = parseFrame(raw);
  if (!parsed.ok) {
    const where = parsed.error.id === undefined ? '' : ` (${parsed.error.type ?? '?'} ${parsed.error.id})`;
    return { ok: false, violation: `invalid frame${where}: ${parsed.error.message}` };
  }
  const frame = parsed.frame;
  const problems: string[] = [];
  if (frame.sender.role !== 'worker') problems.push(`sender.role is '${frame.sender.role}', expected 'worker'`);
  if (frame.tenant !== options.tenant) problems.push(`tenant '${frame.tenant}' is not '${options.tenant}'`);
  const seq = frame.session_seq;
  if (isControlType(frame.type)) {
    if (seq !== undefined && seq !== null) problems.push('control frame carries session_seq');
  } else if (seq === undefined || seq === null) {
    problems.push('non-control frame lacks session_seq');
  } else if (seq < 1) {
    problems.push(`session_seq ${seq} is below 1`);
  }
  if (SCHEDULER_ONLY_TYPES.has(frame.type)) problems.push(`${frame.type} may only be sent by a scheduler`);
  if (problems.length > 0) {
    return { ok: false, frame, violation: `${frame.type} ${frame.id}: ${problems.join('; ')}` };
  }
  return { ok: true, frame };
}
