import type { FeedbackChannel } from './feedback-channel.js';
import type { FeedbackBody, FeedbackChannelName } from './types.js';

/** What an execution and the runner use of a task's feedback channel. */
export type TaskFeedback = Pick<FeedbackChannel, 'send' | 'sendNowait' | 'emitText' | 'flush' | 'close'>;

/**
 * A task's feedback channel, made on the handler's first feedback call: most
 * handlers send none, and they should not pay for a channel, its queues and
 * its closing per task. Until then `flush` has nothing to wait for; a channel
 * first used after `close` is made closed, so late calls fail as they would
 * on a channel that existed all along.
 */
export class LazyFeedbackChannel implements TaskFeedback {
  readonly #create: () => FeedbackChannel;
  #channel: FeedbackChannel | undefined;
  #closed = false;

  constructor(create: () => FeedbackChannel) {
    this.#create = create;
  }

  #real(): FeedbackChannel {
    if (this.#channel === undefined) {
      this.#channel = this.#create();
      if (this.#closed) this.#channel.close();
    }
    return this.#channel;
  }

  send(body: FeedbackBody): Promise<void> {
    return this.#real().send(body);
  }

  sendNowait(body: FeedbackBody): void {
    this.#real().sendNowait(body);
  }

  emitText(text: string, channel?: FeedbackChannelName): void {
    this.#real().emitText(text, channel);
  }

  flush(timeoutMs: number): Promise<boolean> {
    return this.#channel === undefined ? Promise.resolve(true) : this.#channel.flush(timeoutMs);
  }

  close(): void {
    this.#closed = true;
    this.#channel?.close();
  }
}
