import { AstraError, ErrorCode, FrameType, type AckPayload, type Frame } from '@astraflow/protocol';

interface Waiter {
  match(frame: Frame): boolean;
  resolve(frame: Frame): void;
  reject(err: unknown): void;
}

/**
 * Waits for session frames during establishment (an ack naming a frame,
 * an accept). Every control frame is offered to it; a lost connection
 * fails every wait at once.
 */
export class ControlWaiters {
  readonly #waiters = new Set<Waiter>();

  /** Resolves with the next frame of `type`, or fails with `E.TIMEOUT` after `timeoutMs`. */
  frame(type: string, timeoutMs: number): Promise<Frame> {
    return this.#wait((frame) => frame.type === type, timeoutMs, type);
  }

  /** Resolves with the ack naming frame `id`. */
  async ack(id: string, timeoutMs: number): Promise<AckPayload> {
    const frame = await this.#wait(
      (f) => f.type === FrameType.ACK && ((f.payload as AckPayload).for === id || f.ack?.for === id),
      timeoutMs,
      `ack of ${id}`,
    );
    return frame.payload as AckPayload;
  }

  /** Settles every wait the frame matches. */
  offer(frame: Frame): void {
    for (const waiter of this.#waiters) {
      if (waiter.match(frame)) {
        this.#waiters.delete(waiter);
        waiter.resolve(frame);
      }
    }
  }

  /** Fails every pending wait with `err`. */
  rejectAll(err: unknown): void {
    for (const waiter of this.#waiters) waiter.reject(err);
    this.#waiters.clear();
  }

  #wait(match: (frame: Frame) => boolean, timeoutMs: number, what: string): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new AstraError(ErrorCode.TIMEOUT, `no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.#waiters.add(waiter);
    });
  }
}
