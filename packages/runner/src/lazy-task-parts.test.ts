import { describe, expect, it } from 'vitest';
import { createFeedbackChannel } from './feedback-channel.js';
import { LazyFeedbackChannel } from './lazy-feedback.js';
import { createLazyChildLogger } from './lazy-logger.js';
import type { FeedbackBody } from './types.js';
import type { Logger, LogLevel } from '@astraflow/protocol';

describe('LazyFeedbackChannel', () => {
  it('makes no channel for a task that sends no feedback', async () => {
    let made = 0;
    const lazy = new LazyFeedbackChannel(() => {
      made++;
      return createFeedbackChannel({ sink: async () => {} });
    });
    expect(await lazy.flush(10)).toBe(true);
    lazy.close();
    expect(made).toBe(0);
  });

  it('delivers through the channel it makes on first use, and refuses feedback after close like a real one', async () => {
    const sent: FeedbackBody[] = [];
    const lazy = new LazyFeedbackChannel(() => createFeedbackChannel({ sink: async (body) => void sent.push(body) }));
    await lazy.send({ progress: 0.5 });
    lazy.emitText('x');
    expect(await lazy.flush(1000)).toBe(true);
    expect(sent.map((b) => b.progress ?? b.chunks?.[0]?.text)).toEqual([0.5, 'x']);
    const late = new LazyFeedbackChannel(() => createFeedbackChannel({ sink: async () => {} }));
    late.close();
    await expect(late.send({ progress: 1 })).rejects.toMatchObject({ code: 'E.RUNNER.CANCELLED' });
  });
});

describe('createLazyChildLogger', () => {
  function parentLogger(enabled: LogLevel[]): { logger: Logger; children: Record<string, unknown>[]; lines: string[] } {
    const children: Record<string, unknown>[] = [];
    const lines: string[] = [];
    const make = (bindings: Record<string, unknown>): Logger => {
      const log =
        (level: LogLevel) =>
        (obj: Record<string, unknown> | string, msg?: string): void =>
          void lines.push(
            `${level} ${JSON.stringify(bindings)} ${typeof obj === 'string' ? obj : `${JSON.stringify(obj)} ${msg}`}`,
          );
      return {
        trace: log('trace'),
        debug: log('debug'),
        info: log('info'),
        warn: log('warn'),
        error: log('error'),
        fatal: log('fatal'),
        child: (more) => {
          children.push(more);
          return make({ ...bindings, ...more });
        },
        isLevelEnabled: (level) => enabled.includes(level),
      } as Logger;
    };
    return { logger: make({}), children, lines };
  }

  it('makes the child only when a line is written at an enabled level, and then once', () => {
    const { logger, children, lines } = parentLogger(['info', 'warn']);
    const lazy = createLazyChildLogger(logger, { task_id: 't' });
    lazy.debug({ a: 1 }, 'skipped');
    expect(children).toEqual([]);
    lazy.info('one');
    lazy.warn({ b: 2 }, 'two');
    expect(children).toEqual([{ task_id: 't' }]);
    expect(lines).toEqual(['info {"task_id":"t"} one', 'warn {"task_id":"t"} {"b":2} two']);
    expect(lazy.isLevelEnabled?.('debug')).toBe(false);
  });
});
