import {
  AstraError,
  ErrorCode,
  SendWindow,
  buildFrame,
  clampTimerMs,
  isControlType,
  type AckPayload,
  type Frame,
  type PayloadOf,
} from '@astraflow/protocol';
import { isImpossibleAck } from './ack-check.js';
import { deferred, type Deferred } from './deferred.js';
import { retransmitDelayMs } from './backoff.js';
import { LatencyEstimate } from './latency-estimate.js';
import type { CompiledSessionConfig } from './session-config.js';
import type { OutboundReceipt, SendOptions, SessionLink } from './session-types.js';

interface OutboxItem {
  id: string;
  /** Built and validated once, at `send()`; numbering and the sender id are added when it enters the window. */
  frame: Frame;
  /** `JSON.stringify(frame)`, made for the size check at `send()`. */
  text?: string;
  sent?: (receipt: OutboundReceipt) => void;
  /** Fails the `send()` promise of a frame still queued when the session closes. */
  unsent?: (err: AstraError) => void;
  ack: Deferred<void>;
}

/** Bytes reserved for `session_seq` and a sender id that may change after send(). */
const NUMBERING_ROOM_BYTES = 256;

/**
 * The outbound half of the reliable stream (docs/protocol.md §5): a queue
 * of frames waiting for window credit, the send window, retransmission
 * with backoff until acked (a link that never acks is dropped), the size
 * limit, and waiting for everything to be acked. What happens to an answer
 * while the link is down: it stays here, queued or unacked, and goes out
 * again after a resume, or renumbered into a fresh session.
 */
export class OutboundStream {
  readonly #link: SessionLink;
  readonly #config: CompiledSessionConfig;
  readonly #window: SendWindow<{ frame: Frame; item: OutboxItem; text: string }>;
  readonly #retx = new Map<number, { attempts: number; timer: NodeJS.Timeout; sentAt: number }>();
  readonly #queue: OutboxItem[] = [];
  #flushWaiters: Array<() => void> = [];
  /** Round-trip time of first transmissions, for the heartbeat. */
  readonly latency = new LatencyEstimate();

  constructor(link: SessionLink, config: CompiledSessionConfig) {
    this.#link = link;
    this.#config = config;
    this.#window = new SendWindow(config.windowSize);
  }

  /** Frames waiting for credit. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Frames sent and not yet acked. */
  get unacked(): number {
    return this.#window.inflight;
  }

  /** Highest `session_seq` handed out so far. */
  get highestSent(): number {
    return this.#window.nextSeq - 1;
  }

  /** True when every outbound frame has been acked (nothing queued, nothing unacked). */
  get flushed(): boolean {
    return this.#queue.length === 0 && this.#window.inflight === 0;
  }

  /** Builds (and so validates) a business frame and queues it; resolves once it holds a place in the window (see `Session.send`). */
  send<T extends string>(type: T, payload: PayloadOf<T>, options: SendOptions): Promise<OutboundReceipt> {
    if (isControlType(type)) {
      return Promise.reject(new AstraError(ErrorCode.INTERNAL, `${type} is a session frame; send() carries business frames`));
    }
    // Built now, so a bad payload fails its caller instead of the pump.
    const frame = buildFrame(type, payload, {
      ...(options.id !== undefined ? { id: options.id } : {}),
      sender: this.#link.sender(),
      tenant: this.#config.tenant,
      ...(options.corr !== undefined ? { corr: options.corr } : {}),
      ...(options.seq !== undefined ? { seq: options.seq } : {}),
      ...(options.ackRequest ? { ackRequest: true } : {}),
    });
    // Serialised once: the size check measures the text the pump then sends (numbered in place).
    const text = JSON.stringify(frame);
    const tooLarge = this.#checkSize(frame, text);
    if (tooLarge) return Promise.reject(tooLarge);
    return new Promise<OutboundReceipt>((resolve, reject) => {
      this.#queue.push({ id: frame.id, frame, text, sent: resolve, unsent: reject, ack: deferred() });
      this.pump();
    });
  }

  /** Moves queued frames into the window while there is credit and the session is open. */
  pump(): void {
    while (this.#link.isOpen() && this.#queue.length > 0 && this.#window.hasCredit) {
      const item = this.#queue.shift() as OutboxItem;
      const entry = this.#window.push(item.id, (seq) => {
        const sender = this.#link.sender();
        // The sender id may have changed since send() (adopted instance id); both fields stay schema-valid.
        const frame = { ...item.frame, sender, session_seq: seq };
        // The text made at send() gets its number in front ("session_seq" is a new key there), unless the sender changed.
        const reuse = item.text !== undefined && item.frame.sender.id === sender.id && item.frame.session_seq === undefined;
        const text = reuse ? `{"session_seq":${seq},${(item.text as string).slice(1)}` : JSON.stringify(frame);
        return { item, frame, text };
      });
      void this.#link.transmit(entry.item.frame, entry.item.text);
      this.#scheduleRetransmit(entry.seq, 0);
      item.sent?.({ frame: entry.item.frame, acked: item.ack.promise });
      item.sent = undefined;
      item.unsent = undefined;
    }
    this.#link.stats.outboxDepth = this.#queue.length;
    this.#link.stats.unacked = this.#window.inflight;
  }

  /** Applies a `control.ack`: settles acked frames, takes the peer's window size, refills the window. */
  onAck(frame: Frame<'control.ack'>): void {
    const ack: AckPayload = frame.payload;
    const { stats, log } = this.#link;
    if (isImpossibleAck(ack, this.highestSent)) {
      stats.impossibleAcks++;
      const fields = { id: frame.id, ack_seq: ack.ack_seq, ack_bitmap: ack.ack_bitmap, highest_sent: this.highestSent };
      // Logged once at WARN: a scheduler repeating it must not flood the log.
      if (stats.impossibleAcks === 1) log.warn(fields, 'ack for frames never sent ignored (logged once)');
      else log.debug(fields, 'ack for frames never sent ignored');
      return;
    }
    if (typeof ack.recv_window === 'number') this.#window.size = ack.recv_window;
    const acked = this.#window.ack({
      for: ack.for ?? frame.ack?.for ?? null,
      ack_seq: ack.ack_seq ?? null,
      ack_bitmap: ack.ack_bitmap ?? null,
      recv_window: ack.recv_window ?? null,
    });
    for (const entry of acked) {
      const retx = this.#retx.get(entry.seq);
      if (retx) clearTimeout(retx.timer);
      if (retx?.attempts === 0) this.latency.sample(performance.now() - retx.sentAt);
      this.#retx.delete(entry.seq);
      entry.item.item.ack.resolve();
      log.debug({ session_seq: entry.seq, id: entry.id, type: entry.item.frame.type }, 'ack resolved');
    }
    stats.unacked = this.#window.inflight;
    if (acked.length > 0) {
      this.pump();
      this.#notifyFlush();
    }
  }

  /** After a resume: every unacked frame goes out again at once, under its old number. */
  retransmitAll(): void {
    for (const entry of this.#window.pending()) {
      this.#link.log.debug({ session_seq: entry.seq, id: entry.id }, 'retransmitting after resume');
      this.#link.stats.retransmissions++;
      void this.#link.transmit(entry.item.frame, entry.item.text);
      this.#scheduleRetransmit(entry.seq, 0);
    }
  }

  /**
   * A fresh session numbers the stream from 1 again. Frames the old
   * session never saw acked are not lost: they go back to the front of the
   * queue, keeping their ids, and are sent again under new numbers.
   */
  requeueUnacked(): number {
    this.clearRetransmits();
    const unacked = this.#window.reset().map((entry) => entry.item.item);
    this.#queue.unshift(...unacked);
    return unacked.length;
  }

  /** Stops every retransmission timer (the connection is gone; a resume restarts them). */
  clearRetransmits(): void {
    for (const { timer } of this.#retx.values()) clearTimeout(timer);
    this.#retx.clear();
  }

  /** The session closed: every queued and unacked frame fails with `reason`. */
  fail(reason: AstraError): void {
    this.clearRetransmits();
    for (const item of this.#queue.splice(0)) {
      item.ack.reject(reason);
      // Its send() is still pending: settle it, or its caller waits forever.
      item.unsent?.(
        new AstraError(ErrorCode.TRANSPORT_FAILURE, `session closed with ${item.frame.type} ${item.id} still queued; not sent`, {
          cause: reason,
        }),
      );
    }
    for (const entry of this.#window.reset()) entry.item.item.ack.reject(reason);
  }

  /** Waits until {@link flushed}, or `timeoutMs`; resolves with whether it got there. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.flushed) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#flushWaiters = this.#flushWaiters.filter((w) => w !== done);
        resolve(false);
      }, clampTimerMs(timeoutMs));
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#flushWaiters.push(done);
    });
  }

  /**
   * The error for a frame bigger than `max_outbound_frame_bytes` (with room
   * for the numbering added later), or undefined. Such a frame is never
   * sent: the scheduler would close the link, and a resume would send it
   * again, forever.
   */
  #checkSize(frame: Frame, text: string): AstraError | undefined {
    const limit = this.#config.maxOutboundFrameBytes;
    const bytes = Buffer.byteLength(text, 'utf8') + NUMBERING_ROOM_BYTES;
    if (bytes <= limit) return undefined;
    this.#link.stats.outboundTooLarge++;
    return new AstraError(ErrorCode.FRAME_TOO_LARGE, `${frame.type} frame too large (${bytes} bytes, limit ${limit})`, {
      details: { bytes, limit, type: frame.type },
    });
  }

  #scheduleRetransmit(seq: number, attempts: number): void {
    const delay = retransmitDelayMs(attempts, this.#config.retransmit);
    const timer = setTimeout(() => this.#retransmit(seq, attempts), delay);
    timer.unref();
    const previous = this.#retx.get(seq);
    if (previous) clearTimeout(previous.timer);
    this.#retx.set(seq, { attempts, timer, sentAt: performance.now() });
  }

  #retransmit(seq: number, attempts: number): void {
    const entry = this.#window.get(seq);
    if (!entry || !this.#link.connection()) return;
    if (attempts >= this.#config.retransmit.attempts) {
      this.#link.log.warn({ session_seq: seq, id: entry.id, attempts }, 'no ack after every retry; treating the link as dead');
      this.#retx.delete(seq);
      this.#link.dropConnection('ack timeout');
      return;
    }
    this.#link.stats.retransmissions++;
    this.#link.log.debug({ session_seq: seq, id: entry.id, attempt: attempts + 1 }, 'retransmitting unacked frame');
    void this.#link.transmit(entry.item.frame, entry.item.text);
    this.#scheduleRetransmit(seq, attempts + 1);
  }

  #notifyFlush(): void {
    if (!this.flushed) return;
    for (const waiter of this.#flushWaiters.splice(0)) waiter();
  }
}
