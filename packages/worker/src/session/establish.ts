import { AstraError, ErrorCode, FrameType, type RegisterPayload } from '@astraflow/protocol';
import type { ControlWaiters } from './control-waiters.js';
import type { CompiledSessionConfig } from './session-config.js';
import type { SessionLink } from './session-types.js';

/** What establishing a session needs from the session. */
export interface EstablishContext {
  link: SessionLink;
  waiters: ControlWaiters;
  config: CompiledSessionConfig;
  hostname: string;
  /** The persisted identity, if any. */
  instanceId: string | undefined;
  /** The session to resume, if one is held. */
  resume: { sessionId: string; sessionToken: string; lastSeenSeq: number } | undefined;
  register(): RegisterPayload;
  /** Arms the session for one `control.session.accept`; `resuming` while a resume is out. */
  expectAccept(resuming: boolean): void;
  /** The register was acked (HANDSHAKING → REGISTERED). */
  registered(): void;
}

/**
 * Establishes a session on a fresh connection (docs/protocol.md §4):
 * `control.resume` when a session is held, else `control.handshake` then
 * `control.register`; resolves once the accept arrived. Throws, classified
 * (`details.failure`), when the scheduler refuses; `E.TIMEOUT` when an
 * answer does not come within `session_accept_timeout_seconds`.
 */
export async function establishSession(ctx: EstablishContext): Promise<void> {
  const { link, waiters, config } = ctx;
  const timeoutMs = config.acceptTimeoutMs;
  if (ctx.resume) {
    const resume = link.control(
      FrameType.RESUME,
      { session_id: ctx.resume.sessionId, session_token: ctx.resume.sessionToken, last_seen_seq: ctx.resume.lastSeenSeq },
      true,
    );
    const accepted = waiters.frame(FrameType.SESSION_ACCEPT, timeoutMs);
    ctx.expectAccept(true);
    await link.transmit(resume);
    await accepted;
    return;
  }
  const handshake = link.control(
    FrameType.HANDSHAKE,
    {
      protocol: config.handshake.protocol,
      auth: config.handshake.auth,
      worker: {
        worker_name: config.workerName,
        ...(ctx.instanceId ? { worker_instance_id: ctx.instanceId } : {}),
        version: config.handshake.workerVersion,
        hostname: ctx.hostname,
      },
    },
    true,
  );
  const handshakeAck = waiters.ack(handshake.id, timeoutMs);
  await link.transmit(handshake);
  const ack = await handshakeAck;
  if (ack.ok === false) {
    throw new AstraError(ErrorCode.AUTH_UNAUTHENTICATED, `handshake refused${ack.info ? `: ${ack.info}` : ''}`, {
      details: { failure: 'auth' },
    });
  }
  const register = link.control(FrameType.REGISTER, ctx.register(), true);
  const registerAck = waiters.ack(register.id, timeoutMs);
  const accepted = waiters.frame(FrameType.SESSION_ACCEPT, timeoutMs);
  ctx.expectAccept(false);
  await link.transmit(register);
  const rack = await registerAck;
  if (rack.ok === false) {
    throw new AstraError(ErrorCode.SESSION_NOT_REGISTERED, `register refused${rack.info ? `: ${rack.info}` : ''}`, {
      details: { failure: 'protocol' },
    });
  }
  ctx.registered();
  await accepted;
}

/**
 * What a failed establishment means for the reconnect loop: a classified
 * failure (`details.failure`) is reported as such; a resume that timed
 * out forgets the session, so the next attempt is a full handshake
 * (docs/protocol.md §4).
 */
export function establishFailure(err: unknown, holdsSession: boolean): { report?: AstraError; forget?: boolean } {
  if (AstraError.isInstance(err) && err.details?.failure) return { report: err };
  if (AstraError.isInstance(err) && err.code === ErrorCode.TIMEOUT && holdsSession) return { forget: true };
  return {};
}
