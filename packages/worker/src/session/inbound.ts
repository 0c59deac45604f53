import { FrameType, ReceiveWindow, parseFrame, type Frame, type FrameError } from '@astraflow/protocol';
import { BoundedQueue } from '../queue/bounded-queue.js';
import { RecvStallWatch } from './recv-stall-watch.js';
import { salvageNumbered } from './salvage-frame.js';
import type { CompiledSessionConfig } from './session-config.js';
import type { DeliverySink, SessionLink } from './session-types.js';

/** A numbered inbound frame on its way through the window; `invalid` when it failed validation. */
interface Inbound {
  frame: Frame;
  invalid?: FrameError;
  /** Taken on arrival by the sink (express): acked and de-duplicated, never queued. */
  taken?: boolean;
}

/**
 * The inbound half of the reliable stream (docs/protocol.md §5): the
 * transport queue of numbered frames, the receive window with its acks
 * (held back until each covered frame is durable), stall detection, and
 * the app queue that {@link InboundStream.receive} drains. What the app
 * queue cannot take, and invalid frames, go to the {@link DeliverySink}.
 */
export class InboundStream {
  readonly #link: SessionLink;
  readonly #config: CompiledSessionConfig;
  readonly #persist: (frame: Frame) => Promise<void> | undefined;
  readonly #window: ReceiveWindow<Inbound>;
  readonly #stall: RecvStallWatch;
  readonly #appQueue: BoundedQueue<Frame>;
  readonly #transportQueue: Inbound[] = [];
  #pumping = false;
  /** Settles when the last ack held back by `persistInbound` went out. */
  #ackGate: Promise<void> | undefined;
  #sink: DeliverySink | undefined;

  constructor(
    link: SessionLink,
    config: CompiledSessionConfig,
    options: {
      persist: (frame: Frame) => Promise<void> | undefined;
      /** After counting and logging a stall: the session says unhealthy, releases the held frames, starts over. */
      onStall: () => void;
    },
  ) {
    this.#link = link;
    this.#config = config;
    this.#persist = options.persist;
    this.#window = new ReceiveWindow(config.windowSize);
    this.#stall = new RecvStallWatch(config.recvStallMs, () => {
      link.stats.recvStalls++;
      link.log.warn(
        { missing_seq: this.#window.base + 1, buffered: this.#window.buffered, limit_s: config.recvStallMs / 1000 },
        'receive window stuck behind a missing frame; resetting the session',
      );
      options.onStall();
    });
    this.#appQueue = new BoundedQueue({ max: config.appQueue.max, policy: config.appQueue.policy });
  }

  /** Where invalid and dropped frames, and frames on arrival, go. */
  set sink(sink: DeliverySink) {
    this.#sink = sink;
  }

  /** The delivered base of the receive window (`last_seen_seq` of a resume). */
  get base(): number {
    return this.#window.base;
  }

  /** Frames held behind a gap. */
  get buffered(): number {
    return this.#window.buffered;
  }

  /** Frames waiting in the app queue. */
  get appQueueSize(): number {
    return this.#appQueue.size;
  }

  /** True while the window waits too long for a missing frame. */
  get stuck(): boolean {
    return this.#stall.stuck;
  }

  /** Next delivered business frame, in order, exactly once. */
  receive(): Promise<Frame> {
    return this.#appQueue.shift();
  }

  /**
   * A numbered business frame arrived (invalid ones as far as they could
   * be read): offered to the sink at once, then queued for its turn.
   */
  arrive(item: { frame: Frame; invalid?: FrameError }): void {
    if (!item.invalid && this.#link.isOpen() && this.#sink?.arrive) {
      let taken = false;
      try {
        taken = this.#sink.arrive(item.frame);
      } catch (err) {
        this.#link.log.error({ err, type: item.frame.type, id: item.frame.id }, 'express frame handler failed');
      }
      if (taken) {
        this.#enqueue({ frame: item.frame, taken });
        return;
      }
    }
    this.#enqueue(item);
  }

  /** A fresh session numbers the stream from 1 again. */
  reset(): void {
    this.#window.reset();
    this.#stall.stop();
  }

  /** Drops frames still queued from a session that is gone (the scheduler sends them again). */
  clearTransportQueue(): void {
    this.#transportQueue.length = 0;
    this.#link.stats.transportQueueDepth = 0;
  }

  /** Stops stall detection (the session closed). */
  stop(): void {
    this.#stall.stop();
  }

  /** The window gave up on a missing frame: the frames held behind it (acked by bitmap) are delivered. */
  releaseBuffered(): void {
    void this.#deliver(this.#window.takeBuffered()).catch((err: unknown) => {
      this.#link.log.error({ err }, 'delivering frames held behind a missing one failed');
    });
    this.#link.stats.receiveBuffered = 0;
  }

  #enqueue(item: Inbound): void {
    const max = this.#config.transportQueueMax;
    const { stats, log } = this.#link;
    if (max > 0 && this.#transportQueue.length >= max) {
      // Not acked, so the scheduler sends it again: dropping here loses nothing.
      stats.transportQueueDrops++;
      log.warn({ depth: this.#transportQueue.length, id: item.frame.id }, 'transport receive queue full; frame dropped');
      return;
    }
    this.#transportQueue.push(item);
    stats.transportQueueDepth = this.#transportQueue.length;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (let item = this.#transportQueue.shift(); item !== undefined; item = this.#transportQueue.shift()) {
        this.#link.stats.transportQueueDepth = this.#transportQueue.length;
        try {
          await this.#handleNumbered(item);
        } catch (err) {
          this.#link.log.error({ err }, 'unexpected error while handling an inbound frame');
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #handleNumbered(item: Inbound): Promise<void> {
    const { frame, invalid } = item;
    const { stats, log } = this.#link;
    if (!this.#link.isOpen()) {
      log.warn({ type: frame.type, id: frame.id }, 'business frame before session accept dropped');
      return;
    }
    const seq = frame.session_seq;
    if (typeof seq !== 'number' || seq < 1) {
      stats.invalidFramesIn++;
      log.warn({ type: frame.type, id: frame.id }, 'business frame without session_seq dropped');
      return;
    }
    const { status, delivered } = this.#window.offer(seq, item);
    this.#stall.observe(this.#window.base, this.#window.buffered);
    const durable = status === 'accepted' && !invalid ? this.#persist(frame) : undefined;
    if (status !== 'accepted') {
      stats.duplicateFramesIn++;
      log.debug({ session_seq: seq, id: frame.id, status, base: this.#window.base }, 'inbound frame not delivered');
    }
    await this.#deliver(delivered);
    stats.receiveBuffered = this.#window.buffered;
    const wantsFor = frame.ack?.request === true;
    const ack = this.#link.control(
      FrameType.ACK,
      { ok: true, ...(wantsFor ? { for: frame.id } : {}), ...this.#window.ackState() },
      undefined,
      { corr: frame.corr ?? null, ...(wantsFor ? { ackFor: frame.id } : {}) },
    );
    if (durable === undefined && this.#ackGate === undefined) {
      await this.#link.transmit(ack);
      return;
    }
    // Acks wait, in order, until every frame they cover is durable; one computed on a connection that
    // has since gone is not sent (its numbers may mean other frames now; the peer retransmits anyway).
    const conn = this.#link.connection();
    const gate: Promise<void> = Promise.all([this.#ackGate, durable])
      .then(() => (this.#link.connection() === conn ? this.#link.transmit(ack) : undefined))
      .catch(() => {})
      .finally(() => {
        if (this.#ackGate === gate) this.#ackGate = undefined;
      });
    this.#ackGate = gate;
  }

  /** Hands frames released by the window to the app queue (invalid ones to the sink), in order. */
  async #deliver(items: Inbound[]): Promise<void> {
    for (const next of items) {
      if (next.invalid) {
        this.#toSink({ kind: 'invalid', frame: next.frame, error: next.invalid });
        continue;
      }
      if (next.taken) continue; // handled on arrival
      const outcome = await this.#appQueue.push(next.frame);
      if (outcome.dropped) {
        this.#link.stats.appQueueDrops++;
        this.#link.log.warn(
          { type: outcome.dropped.type, id: outcome.dropped.id, policy: this.#config.appQueue.policy },
          'app queue full; frame dropped',
        );
        this.#toSink({ kind: 'dropped', frame: outcome.dropped });
      }
    }
    this.#link.stats.appQueueDepth = this.#appQueue.size;
  }

  #toSink(delivery: Parameters<DeliverySink['deliver']>[0]): void {
    try {
      this.#sink?.deliver(delivery);
    } catch (err) {
      this.#link.log.error(
        { err, kind: delivery.kind, type: delivery.frame.type, id: delivery.frame.id },
        'delivery sink failed',
      );
    }
  }
}

/**
 * Reads one raw inbound frame. An unreadable frame that still names its
 * `session_seq` comes back as far as it could be read, with `invalid`: it
 * takes its place in the stream all the same, so the scheduler gets an ack
 * (no endless retransmission), a command an answer, and the frames behind
 * it are not held back forever. Anything else unreadable is counted,
 * logged and dropped (undefined).
 */
export function readInbound(
  raw: string,
  maxBytes: number,
  link: Pick<SessionLink, 'stats' | 'log'>,
): { frame: Frame; invalid?: FrameError } | undefined {
  const parsed = parseFrame(raw, { maxBytes });
  if (parsed.ok) {
    link.stats.framesIn++;
    return { frame: parsed.frame };
  }
  link.stats.invalidFramesIn++;
  const { error } = parsed;
  const stub = salvageNumbered(raw, error);
  if (stub) {
    link.log.warn(
      { code: error.code, stage: error.stage, type: stub.type, id: stub.id, session_seq: stub.session_seq },
      `invalid inbound frame: ${error.message}`,
    );
    return { frame: stub, invalid: error };
  }
  link.log.warn(
    { code: error.code, stage: error.stage, type: error.type, id: error.id },
    `inbound frame dropped: ${error.message}`,
  );
  return undefined;
}
