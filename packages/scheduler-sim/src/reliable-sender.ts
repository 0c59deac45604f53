import type { Frame, Logger, PendingEntry } from '@astraflow/protocol';
import { applyTamper, type FrameTamper } from './frame-tamper.js';
import type { RetransmitPolicy } from './scheduler-options.js';
import type { Conn, SimSession } from './scheduler-state.js';

interface Outbound {
  frame: Frame;
  tamper?: FrameTamper | undefined;
  resolve: (frame: Frame) => void;
  reject: (error: unknown) => void;
}

const noop = (): void => {};

/** What {@link ReliableSender} needs from the simulator around it. */
export interface ReliableSenderOptions {
  retransmit: RetransmitPolicy | false;
  log: Logger;
  /** The simulator's current session, if any. */
  session: () => SimSession | undefined;
  /** Writes one frame to a connection. */
  transmit: (conn: Conn, frame: Frame) => void;
}

/**
 * The scheduler's reliable outbound stream: a queue that waits for a
 * session and for the worker's credit, numbering from the session's send
 * window, and per-frame retransmission timers when a policy is set.
 */
export class ReliableSender {
  readonly #queue: Outbound[] = [];
  readonly #options: ReliableSenderOptions;
  #retransmissions = 0;

  constructor(options: ReliableSenderOptions) {
    this.#options = options;
  }

  /** Frames waiting for a session or for credit. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Frames sent again because their ack was late or a resume asked for them. */
  get retransmissions(): number {
    return this.#retransmissions;
  }

  /** Queues `frame`; resolves with it (numbered, and tampered if `tamper` is given) once it first went out. */
  enqueue<T extends string>(frame: Frame<T>, tamper?: FrameTamper): Promise<Frame<T>> {
    return new Promise<Frame<T>>((resolve, reject) => {
      this.#queue.push({ frame, tamper, resolve: resolve as (f: Frame) => void, reject });
      this.pump();
    });
  }

  /** Sends queued frames while the session's connection is ready and the worker has credit. */
  pump(): void {
    const session = this.#options.session();
    const conn = session?.conn;
    if (session === undefined || conn === undefined || conn.phase !== 'ready') return;
    while (this.#queue.length > 0 && session.send.hasCredit) {
      const out = this.#queue.shift() as Outbound;
      const entry = session.send.push(out.frame.id, (seq) => applyTamper({ ...out.frame, session_seq: seq }, out.tamper));
      this.#options.transmit(conn, entry.item);
      this.#armRetry(session, entry.seq, 0);
      out.resolve(entry.item);
    }
  }

  /** The worker acked `released`: their timers stop and the freed credit is used. */
  acked(session: SimSession, released: readonly PendingEntry<Frame>[]): void {
    for (const entry of released) this.#stopRetry(session, entry.seq);
    this.pump();
  }

  /** A resume told the worker's `last_seen_seq`: what it has is released, the rest is sent again unchanged. */
  resumed(session: SimSession, conn: Conn, lastSeen: number): void {
    for (const entry of session.send.ack({ ack_seq: lastSeen })) this.#stopRetry(session, entry.seq);
    for (const entry of session.send.pending()) {
      this.#options.transmit(conn, entry.item);
      this.#retransmissions++;
      this.#armRetry(session, entry.seq, 0);
    }
    this.pump();
  }

  /** The session ends: its unacked frames go back to the head of the queue, for the next session. */
  requeue(session: SimSession): void {
    this.stopRetries(session);
    const left = session.send.reset();
    const requeued = left.map(({ item }): Outbound => {
      const { session_seq: _dropped, ...frame } = item;
      return { frame: frame as Frame, resolve: noop, reject: noop };
    });
    this.#queue.unshift(...requeued);
  }

  /** Stops every retransmission timer of `session` (its connection went away; a resume resends). */
  stopRetries(session: SimSession): void {
    for (const timer of session.retries.values()) clearTimeout(timer);
    session.retries.clear();
  }

  /** Rejects every queued send (the simulator is closing). */
  rejectAll(error: unknown): void {
    for (const out of this.#queue.splice(0)) out.reject(error);
  }

  #armRetry(session: SimSession, seq: number, attempt: number): void {
    const policy = this.#options.retransmit;
    if (policy === false) return;
    this.#stopRetry(session, seq);
    const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
    const timer = setTimeout(() => {
      session.retries.delete(seq);
      const entry = session.send.get(seq);
      const conn = session.conn;
      if (entry === undefined || this.#options.session() !== session || conn === undefined || conn.phase !== 'ready') {
        return;
      }
      this.#options.log.debug({ conn: conn.id, seq, attempt: attempt + 1 }, 'retransmit');
      this.#options.transmit(conn, entry.item);
      this.#retransmissions++;
      this.#armRetry(session, seq, attempt + 1);
    }, delay);
    session.retries.set(seq, timer);
  }

  #stopRetry(session: SimSession, seq: number): void {
    const timer = session.retries.get(seq);
    if (timer !== undefined) clearTimeout(timer);
    session.retries.delete(seq);
  }
}
