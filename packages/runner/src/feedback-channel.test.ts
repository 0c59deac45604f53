import { describe, expect, it } from 'vitest';
import { AstraError } from '@astraflow/protocol';
import { createFeedbackChannel } from './feedback-channel.js';
import type { FeedbackBody } from './types.js';

/** A sink whose frames stay in flight until the test accepts them. */
function manualSink() {
  const frames: FeedbackBody[] = [];
  const pending: Array<{ resolve(): void; reject(error: Error): void }> = [];
  return {
    frames,
    get inFlight() {
      return pending.length;
    },
    sink: (body: FeedbackBody) =>
      new Promise<void>((resolve, reject) => {
        frames.push(body);
        pending.push({ resolve, reject });
      }),
    /** Accepts the oldest in-flight frame and lets the channel move on. */
    async accept(): Promise<void> {
      pending.shift()?.resolve();
      await new Promise((resolve) => setImmediate(resolve));
    },
    async refuse(error: Error): Promise<void> {
      pending.shift()?.reject(error);
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

const texts = (frames: FeedbackBody[]): string[] =>
  frames.flatMap((frame) => (frame.chunks ?? []).map((chunk) => chunk.text ?? ''));

describe('FeedbackChannel', () => {
  it('sends the first body at once and coalesces the rest while a frame is in flight', async () => {
    const sink = manualSink();
    const channel = createFeedbackChannel({ sink: sink.sink });
    channel.sendNowait({ stage: 'start', progress: 0.1 });
    channel.emitText('a');
    channel.sendNowait({ progress: 0.2, message: 'm1', metrics: { loss: 3, acc: 0.1 } });
    channel.emitText('b', 'stdout');
    channel.sendNowait({ progress: 0.3, metrics: { loss: 2 }, metadata: { k: 1 } });
    expect(sink.frames).toEqual([{ stage: 'start', progress: 0.1 }]);
    await sink.accept();
    expect(sink.frames[1]).toEqual({
      progress: 0.3,
      message: 'm1',
      metrics: { loss: 2, acc: 0.1 },
      metadata: { k: 1 },
      chunks: [
        { channel: 'log', index: 0, text: 'a' },
        { channel: 'stdout', index: 0, text: 'b' },
      ],
    });
    await sink.accept();
    expect(await channel.flush(1000)).toBe(true);
    expect(sink.frames).toHaveLength(2);
  });

  it('resolves send() only once its frame was accepted, and keeps later bodies out of it', async () => {
    const sink = manualSink();
    const channel = createFeedbackChannel({ sink: sink.sink });
    channel.sendNowait({ message: 'first' });
    channel.emitText('x');
    let sent = false;
    const sending = channel.send({ stage: 'checkpoint' }).then(() => {
      sent = true;
    });
    channel.sendNowait({ message: 'after' });
    await sink.accept();
    expect(sent).toBe(false);
    expect(sink.frames[1]).toEqual({ stage: 'checkpoint', chunks: [{ channel: 'log', index: 0, text: 'x' }] });
    await sink.accept();
    await sending;
    expect(sent).toBe(true);
    expect(sink.frames[2]).toEqual({ message: 'after' });
    await sink.accept();
    expect(await channel.flush(1000)).toBe(true);
  });

  it('bounds pending chunks, drops the oldest and reports how many', async () => {
    const sink = manualSink();
    const channel = createFeedbackChannel({ sink: sink.sink, maxPendingChunks: 10, maxChunksPerFrame: 4 });
    for (let i = 0; i < 100; i += 1) channel.emitText(String(i));
    // One frame in flight (chunk 0); only the 10 newest of the other 99 are still held.
    while (sink.inFlight > 0) await sink.accept();
    expect(await channel.flush(1000)).toBe(true);
    expect(sink.frames.every((frame) => (frame.chunks?.length ?? 0) <= 4)).toBe(true);
    const delivered = texts(sink.frames).map(Number);
    expect(delivered).toEqual([0, ...Array.from({ length: 10 }, (_, i) => 90 + i)]);
    expect(sink.frames[1]?.metadata).toEqual({ dropped_chunks: 89 });
    expect(channel.droppedChunks).toBe(89);
  });

  it('splits one big body into frames of at most maxChunksPerFrame, in order', async () => {
    const frames: FeedbackBody[] = [];
    const channel = createFeedbackChannel({ sink: async (body) => void frames.push(body), maxChunksPerFrame: 3 });
    await channel.send({ chunks: Array.from({ length: 7 }, (_, i) => ({ channel: 'llm' as const, text: `t${i}` })) });
    expect(frames.map((frame) => frame.chunks?.length)).toEqual([3, 3, 1]);
    expect(texts(frames)).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
  });

  it('rejects send() when its frame is refused and keeps going', async () => {
    const sink = manualSink();
    const channel = createFeedbackChannel({ sink: sink.sink });
    const first = channel.send({ message: 'one' }).catch((error: unknown) => error);
    channel.sendNowait({ message: 'two' });
    await sink.refuse(new Error('connection lost'));
    const error = await first;
    expect(AstraError.isInstance(error) && error.code).toBe('E.RUNNER.FAILURE');
    expect((error as Error).message).toContain('connection lost');
    expect(sink.frames[1]).toEqual({ message: 'two' });
    await sink.accept();
    expect(await channel.flush(1000)).toBe(true);
  });

  it('refuses invalid bodies at the call', async () => {
    const channel = createFeedbackChannel({ sink: async () => {} });
    expect(() => channel.sendNowait({ progress: 2 })).toThrow(/progress/);
    expect(() => channel.sendNowait({ bogus: 1 } as FeedbackBody)).toThrow(/invalid feedback body/);
    expect(() => channel.emitText('x', 'nope' as 'log')).toThrow(/channel/);
    expect(() => channel.emitText(5 as unknown as string)).toThrow(/string/);
    await expect(channel.send({ metadata: { f: () => 1 } })).rejects.toThrow(/metadata\.f/);
  });

  it('gives up flushing after the timeout, and close() releases waiting senders', async () => {
    const sink = manualSink();
    const channel = createFeedbackChannel({ sink: sink.sink });
    channel.sendNowait({ message: 'stuck' });
    const waiting = channel.send({ message: 'behind' });
    expect(await channel.flush(20)).toBe(false);
    channel.close();
    const error = await waiting.catch((reason: unknown) => reason);
    expect(AstraError.isInstance(error) && error.code).toBe('E.RUNNER.CANCELLED');
    channel.sendNowait({ message: 'ignored' });
    await expect(channel.send({ message: 'late' })).rejects.toThrow(/closed/);
    await sink.accept();
    expect(sink.frames).toEqual([{ message: 'stuck' }]);
  });

  it('refuses bad limits', () => {
    expect(() => createFeedbackChannel({ sink: async () => {}, maxPendingChunks: 0 })).toThrow(/maxPendingChunks/);
    expect(() => createFeedbackChannel({ sink: async () => {}, maxChunksPerFrame: 1.5 })).toThrow(/maxChunksPerFrame/);
  });
});
