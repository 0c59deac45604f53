import { buildFrame, FrameType, type Frame, type FrameError } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import type { Outbox } from '../outbox.js';
import { compileRouterConfig } from '../compile-options.js';
import type { DropReason } from './route-handler.js';
import { RouteTable } from './route-table.js';
import { Router } from './router.js';

const base: Parameters<typeof compileRouterConfig>[0] = {
  handler_dispatch_max_inflight: 2,
  handler_dispatch_queue_max: 0,
  handler_dispatch_queue_overflow: 'block',
  handler_dispatch_queue_idle_seconds: 0,
  handler_dispatch_timeout_seconds: 0,
  handler_dispatch_max_failures: 0,
  handler_dispatch_failure_cooldown_seconds: 0,
};

function frame(type: string, n: number): Frame {
  return buildFrame(type, { n } as never, { sender: { role: 'scheduler', id: 's' }, tenant: 't', id: `${type}-${n}` });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records replies instead of sending them (the router only passes it through). */
const replies: Array<{ type: string; payload: unknown }> = [];
const outbox: Outbox = {
  send(type, payload) {
    replies.push({ type, payload });
    const frame = buildFrame(type, payload, { sender: { role: 'worker', id: 'w' }, tenant: 't' });
    return Promise.resolve({ frame, acked: Promise.resolve() });
  },
};

describe('Router', () => {
  it('never runs more than max_inflight handlers at once', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 3 }) });
    let running = 0;
    let peak = 0;
    let done = 0;
    router.register('ext.test.work', {
      async handle() {
        running++;
        peak = Math.max(peak, running);
        await sleep(10);
        running--;
        done++;
      },
    });
    for (let i = 0; i < 20; i++) await router.route(frame('ext.test.work', i));
    while (done < 20) await sleep(5);
    expect(peak).toBe(3);
  });

  it('runs one at a time with max_inflight 0', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 0 }) });
    const order: string[] = [];
    router.register('ext.test.seq', {
      async handle(f) {
        order.push(`start ${f.id}`);
        await sleep(5);
        order.push(`end ${f.id}`);
      },
    });
    for (let i = 0; i < 3; i++) await router.route(frame('ext.test.seq', i));
    while (order.length < 6) await sleep(5);
    expect(order).toEqual([
      'start ext.test.seq-0',
      'end ext.test.seq-0',
      'start ext.test.seq-1',
      'end ext.test.seq-1',
      'start ext.test.seq-2',
      'end ext.test.seq-2',
    ]);
  });

  it('hands frames dropped by drop_new to the handler to answer', async () => {
    const router = new Router({
      outbox,
      config: compileRouterConfig({
        ...base,
        handler_dispatch_max_inflight: 1,
        handler_dispatch_queue_max: 1,
        handler_dispatch_queue_overflow: 'drop_new',
      }),
    });
    const dropped: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    router.register('ext.test.q', {
      handle: () => gate,
      onDropped: (f, reason) => dropped.push(`${f.id}:${reason}`),
    });
    await router.route(frame('ext.test.q', 0)); // running
    await sleep(5);
    await router.route(frame('ext.test.q', 1)); // queued
    await router.route(frame('ext.test.q', 2)); // dropped
    expect(dropped).toEqual(['ext.test.q-2:queue_overflow']);
    expect(router.stats.dropped.queue_overflow).toBe(1);
    release();
    await sleep(10);
    await router.idle();
  });

  it('lets admit() settle a frame without queueing it', async () => {
    const router = new Router({ outbox, config: compileRouterConfig(base) });
    let handled = 0;
    router.register('ext.test.admit', { admit: () => false, handle: async () => void handled++ });
    await router.route(frame('ext.test.admit', 1));
    await sleep(5);
    expect(handled).toBe(0);
  });

  it('gives handlers the outbox to reply through', async () => {
    const router = new Router({ outbox, config: compileRouterConfig(base) });
    router.register('ext.test.echo', {
      handle: async (f, { outbox: out }) => {
        await out.send('ext.test.echoed', { of: f.id });
      },
    });
    await router.route(frame('ext.test.echo', 9));
    while (replies.length === 0) await sleep(5);
    expect(replies.at(-1)).toEqual({ type: 'ext.test.echoed', payload: { of: 'ext.test.echo-9' } });
  });

  it('reports unrouted frames', async () => {
    const seen: string[] = [];
    const router = new Router({ outbox, config: compileRouterConfig(base), onUnrouted: (f) => seen.push(f.type) });
    await router.route(frame('ext.unknown.thing', 1));
    expect(seen).toEqual(['ext.unknown.thing']);
  });

  it('times handlers out and cools a failing handler down', async () => {
    const router = new Router({
      outbox,
      config: compileRouterConfig({
        ...base,
        handler_dispatch_timeout_seconds: 0.02,
        handler_dispatch_max_failures: 2,
        handler_dispatch_failure_cooldown_seconds: 60,
      }),
    });
    const aborted: boolean[] = [];
    const dropped: string[] = [];
    router.register('ext.test.slow', {
      handle: (_f, { signal }) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted.push(true);
            resolve();
          });
        }),
      onDropped: (_frame, reason) => dropped.push(reason),
    });
    await router.route(frame('ext.test.slow', 1));
    await sleep(60);
    await router.route(frame('ext.test.slow', 2));
    await sleep(60);
    await router.route(frame('ext.test.slow', 3));
    await sleep(20);
    expect(router.stats.handlerTimeouts).toBe(2);
    expect(aborted.length).toBe(2);
    expect(dropped).toEqual(['cooldown']);
  });

  it('retires idle per-type queues', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_queue_idle_seconds: 0.02 }) });
    router.register('ext.test.idle', { handle: async () => {} });
    await router.route(frame('ext.test.idle', 1));
    await sleep(5);
    expect(Object.keys(router.queueDepths())).toEqual(['ext.test.idle']);
    await sleep(60);
    expect(Object.keys(router.queueDepths())).toEqual([]);
  });
  it('lets a frame waiting for its claim sit without a slot: later startable frames run, its group keeps its order', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 2 }) });
    const order: string[] = [];
    let aRunning = 0;
    const groupOf = (f: Frame) => ((f.payload as { n: number }).n < 3 ? 'A' : 'B');
    router.register('ext.test.claim', {
      claim(f) {
        if (groupOf(f) === 'B') return () => {};
        if (aRunning >= 1) return undefined;
        aRunning++;
        return () => void aRunning--;
      },
      async handle(f) {
        order.push(`start ${f.id}`);
        await sleep(groupOf(f) === 'A' ? 60 : 5);
        order.push(`end ${f.id}`);
      },
    });
    // A0, A1, A2 share a limit of 1; B3 must not wait behind them.
    for (const n of [0, 1, 2, 3]) await router.route(frame('ext.test.claim', n));
    await sleep(30);
    expect(order).toEqual(['start ext.test.claim-0', 'start ext.test.claim-3', 'end ext.test.claim-3']);
    await router.idle();
    while (router.queued > 0 || router.inflight > 0) await sleep(5);
    const starts = order.filter((e) => e.startsWith('start')).map((e) => e.slice(6));
    expect(starts).toEqual(['ext.test.claim-0', 'ext.test.claim-3', 'ext.test.claim-1', 'ext.test.claim-2']);
  });

  it('drops frames queued longer than maxQueueWaitMs as overloaded', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 1 }) });
    const dropped: string[] = [];
    const handled: string[] = [];
    router.register('ext.test.wait', {
      maxQueueWaitMs: 40,
      onDropped: (f, reason) => dropped.push(`${f.id} ${reason}`),
      async handle(f, context) {
        handled.push(f.id);
        expect(context.queuedMs).toBeLessThan(40);
        await sleep(150);
      },
    });
    for (const n of [0, 1, 2]) await router.route(frame('ext.test.wait', n));
    await sleep(100);
    expect(dropped).toEqual(['ext.test.wait-1 overloaded', 'ext.test.wait-2 overloaded']);
    expect(router.stats.dropped.overloaded).toBe(2);
    expect(router.queued).toBe(0);
    await router.idle();
    expect(handled).toEqual(['ext.test.wait-0']);
  });
});

// Built by hand: the router never looks into payloads, so these need not pass their schemas.
const rawFrame = (type: string, id: string): Frame =>
  ({
    type,
    id,
    ts: new Date().toISOString(),
    tenant: 't',
    sender: { role: 'scheduler', id: 's' },
    payload: {},
  }) as unknown as Frame;

describe('Router as the session delivery sink', () => {
  it('takes express frames on arrival, advertises their type, and leaves other frames to the queue', () => {
    const table = new RouteTable();
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 1 }), table });
    const taken: string[] = [];
    router.register('ext.test.work', { handle: async () => {} });
    router.express(FrameType.EXEC_NEXT_RESPONSE, (f) => taken.push(f.id));
    expect(router.arrive(rawFrame(FrameType.EXEC_NEXT_RESPONSE, 'n1'))).toBe(true);
    expect(router.arrive(rawFrame('ext.test.work', 'w1'))).toBe(false);
    expect(taken).toEqual(['n1']);
    expect(table.types()).toEqual([FrameType.EXEC_NEXT_RESPONSE, 'ext.test.work']);
  });

  it('routes an express frame that comes through the in-order stream to its express handler, not a queue', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 1 }) });
    const taken: string[] = [];
    router.express(FrameType.EXEC_NEXT_RESPONSE, (f) => taken.push(f.id));
    await router.deliver({ kind: 'frame', frame: rawFrame(FrameType.EXEC_NEXT_RESPONSE, 'late') });
    expect(taken).toEqual(['late']);
    expect(router.queued).toBe(0);
    expect(router.stats.unrouted).toBe(0);
  });

  it('hands invalid frames to the type handler rejectInvalid, and dropped ones to onDropped as queue_overflow', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 1 }) });
    const invalid: Array<[string, string]> = [];
    const dropped: Array<[string, DropReason]> = [];
    router.register('ext.test.cmd', {
      handle: async () => {},
      rejectInvalid: (f, error) => void invalid.push([f.id, error.code]),
      onDropped: (f, reason) => dropped.push([f.id, reason]),
    });
    const error = { code: 'E.FRAME.INVALID', message: 'bad payload', stage: 'payload' } as FrameError;
    await router.deliver({ kind: 'invalid', frame: rawFrame('ext.test.cmd', 'i1'), error });
    await router.deliver({ kind: 'dropped', frame: rawFrame('ext.test.cmd', 'd1') });
    // A type without a handler: nothing to answer, nothing thrown.
    await router.deliver({ kind: 'invalid', frame: rawFrame('ext.test.none', 'i2'), error });
    expect(invalid).toEqual([['i1', 'E.FRAME.INVALID']]);
    expect(dropped).toEqual([['d1', 'queue_overflow']]);
  });

  it('resolves drained() only once nothing runs and nothing is queued', async () => {
    const router = new Router({ outbox, config: compileRouterConfig({ ...base, handler_dispatch_max_inflight: 1 }) });
    const releases: Array<() => void> = [];
    router.register('ext.test.hold', { handle: () => new Promise<void>((resolve) => releases.push(resolve)) });
    await router.route(rawFrame('ext.test.hold', 'h1'));
    await router.route(rawFrame('ext.test.hold', 'h2'));
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
