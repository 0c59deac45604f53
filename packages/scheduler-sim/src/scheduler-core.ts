import { randomUUID } from 'node:crypto';
import {
  AstraError,
  buildFrame,
  ErrorCode,
  FrameType,
  isControlType,
  type DrainPayload,
  type ExecDispatchPayload,
  type Frame,
  type PayloadOf,
  type PkgInstallPayload,
  type PkgUninstallPayload,
} from '@astraflow/protocol';
import { SchedulerEngine } from './scheduler-engine.js';
import type { DispatchHandle, SchedulerCommandOptions, SchedulerCoreOptions, SchedulerSendOptions } from './scheduler-options.js';

const noop = (): void => {};

/**
 * The scheduler side of the AstraFlow session protocol (docs/protocol.md),
 * independent of any transport: what {@link SchedulerEngine} does by itself
 * (handshake and token check, register, accept, resume, both windows, optional
 * retransmission) plus the commands a test sends through it. The dummy
 * transport drives it in memory and `@astraflow/testkit` over a real
 * WebSocket server.
 */
export class SchedulerCore extends SchedulerEngine {
  constructor(options: SchedulerCoreOptions = {}) {
    super(options);
  }

  /**
   * Sends a business frame on the reliable stream: it waits for a session
   * and for credit, gets the next `session_seq` and `ack.request`, and is
   * resent unchanged until acked (after a resume; and on a timer when
   * retransmission is on). Resolves with the frame once it first went out.
   * Frames unacked when a fresh session replaces the old one are sent again
   * in the new session, with new sequence numbers and the same ids.
   */
  send<T extends string>(type: T, payload: PayloadOf<T>, options: SchedulerSendOptions = {}): Promise<Frame<T>> {
    let frame: Frame<T>;
    try {
      frame = this.#prepare(type, payload, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.out.enqueue(frame, options.tamper);
  }

  /** Sends `biz.exec.dispatch` and watches for its answer. Never throws: errors arrive through `done`. */
  dispatch(payload: ExecDispatchPayload, options: SchedulerCommandOptions = {}): DispatchHandle {
    const id = options.id ?? randomUUID();
    const done = this.#command(
      FrameType.EXEC_DISPATCH,
      payload,
      id,
      options,
      30_000,
      (f) => (f.type === FrameType.EXEC_RESULT || f.type === FrameType.EXEC_ERROR) && f.corr === id,
    );
    return { id, done };
  }

  /** Sends `biz.pkg.install`; resolves with the `biz.pkg.event` answering it. */
  installPackage(payload: PkgInstallPayload, options: SchedulerCommandOptions = {}): Promise<Frame> {
    const id = options.id ?? randomUUID();
    return this.#command(
      FrameType.PKG_INSTALL,
      payload,
      id,
      options,
      60_000,
      (f) => f.type === FrameType.PKG_EVENT && f.corr === id,
    );
  }

  /** Sends `biz.pkg.uninstall`; resolves with the `biz.pkg.event` answering it. */
  uninstallPackage(payload: PkgUninstallPayload, options: SchedulerCommandOptions = {}): Promise<Frame> {
    const id = options.id ?? randomUUID();
    return this.#command(
      FrameType.PKG_UNINSTALL,
      payload,
      id,
      options,
      60_000,
      (f) => f.type === FrameType.PKG_EVENT && f.corr === id,
    );
  }

  /**
   * Sends `control.reset` to the current connection and closes it (1008
   * for `E.AUTH.*` codes, else 1000), and forgets the session: a later
   * resume is refused with `E.SESSION.UNKNOWN`. Returns whether a worker was
   * connected to receive it.
   */
  reset(code: string, reason: string, retryAfterMs?: number): boolean {
    const conn = this.current();
    this.endSession();
    if (conn === undefined) return false;
    this.sendReset(conn, code, reason, retryAfterMs);
    return true;
  }

  /** Sends `control.drain` to the current connection. */
  drain(payload: DrainPayload = {}): Frame {
    const conn = this.requireCurrent('drain');
    const frame = buildFrame(FrameType.DRAIN, payload, this.envelope());
    this.transmit(conn, frame);
    return frame;
  }

  /** Sends `text` unchanged to the current connection (for garbage tests). */
  emitRaw(text: string): void {
    this.requireCurrent('emitRaw').link.send(text);
  }

  /**
   * Resolves with the accept of the current session when one is up on an
   * open connection (and matches `resumed`), else with the next accept sent.
   */
  waitForSession(filter: { resumed?: boolean } = {}, timeoutMs = 5000): Promise<Frame<'control.session.accept'>> {
    const matches = (f: Frame): boolean =>
      filter.resumed === undefined || ((f.payload as { resumed?: unknown }).resumed === true) === filter.resumed;
    const conn = this.session?.conn;
    if (conn !== undefined && conn.phase === 'ready' && conn.accept !== undefined && matches(conn.accept)) {
      return Promise.resolve(conn.accept as Frame<'control.session.accept'>);
    }
    const what = filter.resumed === undefined ? 'session accept' : `session accept (resumed: ${filter.resumed})`;
    return this.acceptLog.waitFor(matches, { timeoutMs, scanHistory: false, what }) as Promise<Frame<'control.session.accept'>>;
  }

  #prepare<T extends string>(type: T, payload: PayloadOf<T>, options: SchedulerSendOptions): Frame<T> {
    if (this.disposed) throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'scheduler is closed');
    if (isControlType(type)) {
      throw new AstraError(ErrorCode.FRAME_INVALID, `${type} is not a reliable-stream frame; use reset() or drain()`);
    }
    return buildFrame(type, payload, {
      ...this.envelope(),
      ackRequest: true,
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.corr !== undefined ? { corr: options.corr } : {}),
      ...(options.seq !== undefined ? { seq: options.seq } : {}),
    });
  }

  #command(
    type: string,
    payload: Record<string, unknown>,
    id: string,
    options: SchedulerCommandOptions,
    defaultTimeoutMs: number,
    isAnswer: (frame: Frame) => boolean,
  ): Promise<Frame> {
    let result: Promise<Frame>;
    try {
      const frame = this.#prepare(type, payload, { id, ...(options.seq !== undefined ? { seq: options.seq } : {}) });
      const answer = this.timeline.waitFor(isAnswer, {
        timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
        what: `answer to ${type} ${id}`,
      });
      result = Promise.all([this.out.enqueue(frame, options.tamper), answer]).then(([, reply]) => reply);
    } catch (err) {
      result = Promise.reject(err);
    }
    // Callers may keep only the id; an answer nobody awaits must not become an unhandled rejection.
    result.catch(noop);
    return result;
  }
}

/** Creates a {@link SchedulerCore}. */
export function createSchedulerCore(options: SchedulerCoreOptions = {}): SchedulerCore {
  return new SchedulerCore(options);
}
