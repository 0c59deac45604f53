import { buildFrame, FrameType, type Frame, type FrameError } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { compileRouterConfig } from '../compile-options.js';
import type { Outbox } from '../outbox.js';
import type { DropReason } from './route-handler.js';
import { RouteTable } from './route-table.js';
import { Router } from './router.js';

const config = compileRouterConfig({
  handler_dispatch_max_inflight: 1,
  handler_dispatch_queue_max: 0,
  handler_dispatch_queue_overflow: 'block',
  handler_dispatch_queue_idle_seconds: 0,
  handler_dispatch_timeout_seconds: 0,
  handler_dispatch_max_failures: 0,
  handler_dispatch_failure_cooldown_seconds: 0,
});

const outbox: Outbox = {
  send(type, payload) {
    return Promise.resolve({ frame: buildFrame(type, payload, { sender: { role: 'worker', id: 'w' }, tenant: 't' }), acked: Promise.resolve() });
  },
};

// Built by hand: the router never looks into payloads, so these need not pass their schemas.
const frame = (type: string, id: string): Frame =>
  ({ type, id, ts: new Date().toISOString(), tenant: 't', sender: { role: 'scheduler', id: 's' }, payload: {} }) as unknown as Frame;

describe('Router as the session delivery sink', () => {
  it('takes express frames on arrival, advertises their type, and leaves other frames to the queue', () => {
    const table = new RouteTable();
    const router = new Router({ outbox, config, table });
    const taken: string[] = [];
    router.register('ext.test.work', { handle: async () => {} });
    router.express(FrameType.EXEC_NEXT_RESPONSE, (f) => taken.push(f.id));
    expect(router.arrive(frame(FrameType.EXEC_NEXT_RESPONSE, 'n1'))).toBe(true);
    expect(router.arrive(frame('ext.test.work', 'w1'))).toBe(false);
    expect(taken).toEqual(['n1']);
    expect(table.types()).toEqual([FrameType.EXEC_NEXT_RESPONSE, 'ext.test.work']);
  });

  it('routes an express frame that comes through the in-order stream to its express handler, not a queue', async () => {
    const router = new Router({ outbox, config });
    const taken: string[] = [];
    router.express(FrameType.EXEC_NEXT_RESPONSE, (f) => taken.push(f.id));
    await router.deliver({ kind: 'frame', frame: frame(FrameType.EXEC_NEXT_RESPONSE, 'late') });
    expect(taken).toEqual(['late']);
    expect(router.queued).toBe(0);
    expect(router.stats.unrouted).toBe(0);
  });

  it('hands invalid frames to the type handler rejectInvalid, and dropped ones to onDropped as queue_overflow', async () => {
    const router = new Router({ outbox, config });
    const invalid: Array<[string, string]> = [];
    const dropped: Array<[string, DropReason]> = [];
    router.register('ext.test.cmd', {
      handle: async () => {},
      rejectInvalid: (f, error) => void invalid.push([f.id, error.code]),
      onDropped: (f, reason) => dropped.push([f.id, reason]),
    });
    const error = { code: 'E.FRAME.INVALID', message: 'bad payload', stage: 'payload' } as FrameError;
    await router.deliver({ kind: 'invalid', frame: frame('ext.test.cmd', 'i1'), error });
    await router.deliver({ kind: 'dropped', frame: frame('ext.test.cmd', 'd1') });
    // A type without a handler: nothing to answer, nothing thrown.
    await router.deliver({ kind: 'invalid', frame: frame('ext.test.none', 'i2'), error });
    expect(invalid).toEqual([['i1', 'E.FRAME.INVALID']]);
    expect(dropped).toEqual([['d1', 'queue_overflow']]);
  });

  it('resolves drained() only once nothing runs and nothing is queued', async () => {
    const router = new Router({ outbox, config });
    const releases: Array<() => void> = [];
    router.register('ext.test.hold', { handle: () => new Promise<void>((resolve) => releases.push(resolve)) });
    await router.route(frame('ext.test.hold', 'h1'));
    await router.route(frame('ext.test.hold', 'h2'));
    let drained = false;
    const waiting = router.drained().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    releases.shift()?.();
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false); // h2 runs now
    releases.shift()?.();
    await waiting;
    expect(router.inflight + router.queued).toBe(0);
  });
});
