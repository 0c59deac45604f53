import type { Frame, Logger } from '@astraflow/protocol';
import { FrameLog } from './frame-log.js';
import type { SchedulerFrameListener } from './scheduler-options.js';

/**
 * What the scheduler simulator saw of the worker: every frame received,
 * what its receive window delivered, the accepts it sent, the violations it
 * found, and listeners that watch these as they happen. The reacting part
 * is {@link SchedulerCore}, which extends this record.
 */
export abstract class SchedulerRecord {
  protected readonly log: Logger;
  protected readonly receivedLog = new FrameLog<Frame>();
  /** Control frames received and business frames delivered, in the order they happened. */
  protected readonly timeline = new FrameLog<Frame>();
  protected readonly acceptLog = new FrameLog<Frame>();
  readonly #delivered: Frame[] = [];
  readonly #heartbeats: Frame[] = [];
  readonly #registers: Frame[] = [];
  readonly #handshakes: Frame[] = [];
  readonly #resumes: Frame[] = [];
  readonly #violations: string[] = [];
  readonly #listeners = new Set<SchedulerFrameListener>();

  protected constructor(log: Logger) {
    this.log = log;
  }

  /** Every worker frame that passed validation, in arrival order, duplicates included. */
  get received(): Frame[] {
    return this.receivedLog.items;
  }
  /** Business frames after the receive window: each `session_seq` once, in order. */
  get delivered(): Frame[] {
    return this.#delivered;
  }
  /** `control.heartbeat` frames received. */
  get heartbeats(): Frame[] {
    return this.#heartbeats;
  }
  /** Distinct `control.register` frames (retransmissions of the same id are not repeated). */
  get registers(): Frame[] {
    return this.#registers;
  }
  /** `control.handshake` frames received (one per connection that tried). */
  get handshakes(): Frame[] {
    return this.#handshakes;
  }
  /** `control.resume` frames received, valid or not. */
  get resumes(): Frame[] {
    return this.#resumes;
  }
  /** One line per protocol violation by the worker. Tests expect it empty. */
  get violations(): string[] {
    return this.#violations;
  }
  /** Every `control.session.accept` sent, oldest first. */
  get acceptsSent(): Frame[] {
    return this.acceptLog.items;
  }

  /** Waits for a control frame received or a business frame delivered, scanning history first. */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.timeline.waitFor(predicate, { timeoutMs, what: 'matching worker frame' });
  }

  /** Records a violation the transport detected itself (e.g. a binary WebSocket message). */
  recordViolation(text: string): void {
    this.log.warn({ violation: text }, 'protocol violation by worker');
    this.#violations.push(text);
  }

  /** Subscribes to frames as {@link SchedulerFrameListener} describes; returns the unsubscribe function. */
  onFrame(listener: SchedulerFrameListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** A violation on connection `connId`. */
  protected violation(connId: number, text: string): void {
    this.log.warn({ conn: connId, violation: text }, 'protocol violation by worker');
    this.#violations.push(text);
  }

  /** A control frame was handled: recorded in its list (by the caller) and on the timeline. */
  protected recordControl(frame: Frame): void {
    this.timeline.push(frame);
    this.#emit(frame, 'control');
  }

  /** A business frame came out of the receive window. */
  protected recordDelivered(frame: Frame): void {
    this.#delivered.push(frame);
    this.timeline.push(frame);
    this.#emit(frame, 'delivered');
  }

  protected recordHeartbeat(frame: Frame): void {
    this.#heartbeats.push(frame);
  }

  protected recordRegister(frame: Frame): void {
    this.#registers.push(frame);
  }

  protected recordHandshake(frame: Frame): void {
    this.#handshakes.push(frame);
  }

  protected recordResume(frame: Frame): void {
    this.#resumes.push(frame);
  }

  /** Fails every pending wait with `error`. */
  protected cancelWaits(error: unknown): void {
    this.timeline.cancelAll(error);
    this.acceptLog.cancelAll(error);
    this.receivedLog.cancelAll(error);
  }

  #emit(frame: Frame, kind: 'control' | 'delivered'): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(frame, kind);
      } catch (err) {
        this.log.error({ err }, 'onFrame listener threw');
      }
    }
  }
}
