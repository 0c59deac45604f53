import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AstraError, FrameType, type Frame, type Transport, type TransportHandlers } from '@astraflow/protocol';
import { createDummyTransport, type DummyTransport } from '@astraflow/transport-dummy';
import { describe, expect, it } from 'vitest';
import { Session } from './session.js';
import { compileSessionConfig, type SessionConfig } from './session-config.js';
import type { Delivery } from './session-types.js';
import { sessionTestFixture, startTestSession, testDispatch, testSessionConfig } from './session.test-helper.js';

const fixture = sessionTestFixture('astra-session-');
const sessions = fixture.sessions;

const config = (overrides: Partial<SessionConfig> = {}): SessionConfig => testSessionConfig(fixture.dir, overrides);

function start(transport: DummyTransport, overrides: Partial<SessionConfig> = {}, onDropped?: (frame: Frame) => void): Session {
  const sink = onDropped ? { deliver: (d: Delivery) => void (d.kind === 'dropped' && onDropped(d.frame)) } : undefined;
  const session = startTestSession(transport, config(overrides), sink ? { sink } : {});
  sessions.push(session);
  return session;
}

const dispatch = testDispatch;

describe('Session over the dummy transport', () => {
  it('handshakes, registers and reaches READY with schema-valid frames', async () => {
    const transport = createDummyTransport({ token: 'secret-token' });
    const session = start(transport);
    await session.whenReady(5000);
    expect(session.state).toBe('READY');
    const types = transport.sent.map((f) => f.type);
    expect(types.slice(0, 2)).toEqual([FrameType.HANDSHAKE, FrameType.REGISTER]);
    expect(transport.violations).toEqual([]);
    expect(transport.invalid).toEqual([]);
  });

  it('adopts and persists the worker_instance_id from the accept', async () => {
    const transport = createDummyTransport();
    const session = start(transport);
    await session.whenReady(5000);
    const stored = (await readFile(join(fixture.dir, 'var', 'worker_instance_id'), 'utf8')).trim();
    expect(stored).toBe(session.workerInstanceId);
    expect(stored.length).toBeGreaterThan(0);
  });

  it('sends heartbeats at the configured cadence', async () => {
    const transport = createDummyTransport();
    const session = start(transport, { heartbeat_interval_seconds: 0.05, heartbeat_jitter_seconds: 0 });
    await session.whenReady(5000);
    await transport.waitFor((f) => f.type === FrameType.HEARTBEAT);
    const second = transport.sent.filter((f) => f.type === FrameType.HEARTBEAT);
    await transport.waitFor((f) => f.type === FrameType.HEARTBEAT && !second.includes(f));
    const beats = transport.sent.filter((f) => f.type === FrameType.HEARTBEAT);
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]!.payload).toMatchObject({ healthy: true, metrics: { inflight: 0 } });
    expect(transport.violations).toEqual([]);
  });

  it('delivers inbound business frames in order, exactly once, and acks them', async () => {
    const transport = createDummyTransport();
    const session = start(transport);
    await session.whenReady(5000);
    const sent: Frame[] = [];
    for (let i = 1; i <= 5; i++) sent.push(await transport.send(FrameType.EXEC_DISPATCH, dispatch(`t${i}`)));
    // A scheduler retransmission of an already delivered frame must not be delivered again.
    transport.inject(sent[1]!);
    const got: Frame[] = [];
    for (let i = 0; i < 5; i++) got.push(await session.receive());
    expect(got.map((f) => (f.payload as { task_id: string }).task_id)).toEqual(['t1', 't2', 't3', 't4', 't5']);
    await new Promise((r) => setTimeout(r, 50));
    expect(session.stats.duplicateFramesIn).toBe(1);
    expect(session.stats.appQueueDepth).toBe(0);
  });

  it('sends business frames and resolves them when acked', async () => {
    const transport = createDummyTransport();
    const session = start(transport);
    await session.whenReady(5000);
    const receipt = await session.send(
      FrameType.EXEC_RESULT,
      { run_id: 'r', task_id: 't', status: 'SUCCEEDED', result: {} },
      { corr: 'd-1', ackRequest: true },
    );
    await receipt.acked;
    expect(receipt.frame.session_seq).toBe(1);
    expect(transport.delivered.map((f) => f.id)).toEqual([receipt.frame.id]);
    expect(session.flushed).toBe(true);
  });

  it('drops garbage, non-object JSON, invalid and oversized frames and stays READY', async () => {
    const transport = createDummyTransport();
    const session = start(transport, { max_frame_bytes: 2048 });
    await session.whenReady(5000);
    transport.inject('not json at all');
    transport.inject('[1,2,3]');
    transport.inject('42');
    transport.inject({ type: FrameType.EXEC_DISPATCH, id: 'x' });
    transport.inject(JSON.stringify({ pad: 'x'.repeat(4096) }));
    await new Promise((r) => setTimeout(r, 50));
    expect(session.stats.invalidFramesIn).toBe(5);
    expect(session.state).toBe('READY');
    await transport.send(FrameType.EXEC_DISPATCH, dispatch('after-garbage'));
    expect(((await session.receive()).payload as { task_id: string }).task_id).toBe('after-garbage');
  });

  it('hands frames the app queue drops to the sink as dropped and counts them', async () => {
    const transport = createDummyTransport();
    const dropped: string[] = [];
    const session = start(transport, { session_app_queue_max: 2, session_app_queue_overflow: 'drop_new' }, (f) =>
      dropped.push((f.payload as { task_id: string }).task_id),
    );
    await session.whenReady(5000);
    for (let i = 1; i <= 5; i++) await transport.send(FrameType.EXEC_DISPATCH, dispatch(`q${i}`));
    await transport.waitFor((f) => f.type === FrameType.ACK && (f.payload as { ack_seq?: number }).ack_seq === 5);
    expect(dropped).toEqual(['q3', 'q4', 'q5']);
    expect(session.stats.appQueueDrops).toBe(3);
    expect(((await session.receive()).payload as { task_id: string }).task_id).toBe('q1');
  });

  it('drops frames beyond transport_recv_queue_max (unacked, so the scheduler sends them again)', async () => {
    // A transport that hands the test its callbacks, so frames can arrive in one synchronous burst.
    let handlers: TransportHandlers | undefined;
    const burstTransport: Transport = {
      name: 'burst',
      async connect(h) {
        handlers = h;
        return {
          isOpen: true,
          send: async () => {},
          close: (code = 1000, reason = '') => h.onClose({ code, reason, failure: 'none' }),
        };
      },
    };
    const session = new Session({
      config: compileSessionConfig(config({ transport_recv_queue_max: 2 })),
      transport: burstTransport,
      register: () => ({ capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] } }),
    });
    sessions.push(session);
    await session.start();
    while (!handlers) await new Promise((r) => setTimeout(r, 5));
    // The first frame starts the pump; the next two wait in the queue; the last two find it full.
    for (let i = 1; i <= 5; i++) {
      handlers.onMessage(
        JSON.stringify({
          type: FrameType.EXEC_DISPATCH,
          id: `burst-${i}`,
          ts: new Date().toISOString(),
          tenant: 'default',
          sender: { role: 'scheduler', id: 's' },
          session_seq: i,
          payload: dispatch(`b${i}`),
        }),
      );
    }
    // Session frames never wait in that queue: this one is handled before the call returns.
    let drained = false;
    session.on('drain', () => {
      drained = true;
    });
    handlers.onMessage(
      JSON.stringify({
        type: FrameType.DRAIN,
        id: 'd',
        ts: new Date().toISOString(),
        tenant: 'default',
        sender: { role: 'scheduler', id: 's' },
        payload: {},
      }),
    );
    expect(drained).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(session.stats.transportQueueDrops).toBe(2);
    expect(session.stats.framesIn).toBe(6);
  });

  it('resumes after a disconnect and retransmits what was not acked', async () => {
    const transport = createDummyTransport();
    const session = start(transport);
    await session.whenReady(5000);
    const firstSession = session.sessionId;
    transport.disconnect();
    const receipt = await session.send(FrameType.EXEC_RESULT, { run_id: 'r', task_id: 't', status: 'SUCCEEDED', result: {} });
    await receipt.acked;
    expect(session.sessionId).toBe(firstSession);
    expect(transport.sent.some((f) => f.type === FrameType.RESUME)).toBe(true);
    expect(transport.delivered).toHaveLength(1);
    expect(transport.violations).toEqual([]);
  });

  it('starts over with a fresh handshake after control.reset', async () => {
    const transport = createDummyTransport();
    const session = start(transport);
    await session.whenReady(5000);
    const first = session.sessionId;
    transport.reset('E.SESSION.STALE_BINDING', 'scheduler restarted', 10);
    await transport.waitFor((f) => f.type === FrameType.HANDSHAKE && transport.sent.indexOf(f) > 1);
    await new Promise<void>((resolve) => session.once('ready', () => resolve()));
    expect(session.sessionId).not.toBe(first);
    expect(transport.sent.filter((f) => f.type === FrameType.HANDSHAKE)).toHaveLength(2);
  });

  it('ends with an auth error when the scheduler refuses auth and abort-on-auth is set', async () => {
    const transport = createDummyTransport();
    transport.refuseConnections('auth');
    const session = start(transport, { reconnect_abort_on_auth_error: true });
    const err = await session.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err)).toBe(true);
    expect((err as AstraError).code).toMatch(/^E\.AUTH\./);
    expect((err as AstraError).message).not.toContain('secret-token');
    expect(session.state).toBe('CLOSED');
  });

  it('keeps retrying auth failures with growing delays when abort-on-auth is off', async () => {
    const transport = createDummyTransport();
    transport.refuseConnections('auth');
    const session = start(transport);
    const backoffs: number[] = [];
    session.on('state', (state) => {
      if (state === 'BACKOFF') backoffs.push(Date.now());
    });
    await new Promise((r) => setTimeout(r, 600));
    expect(session.state).not.toBe('CLOSED');
    expect(session.stats.reconnects).toBeGreaterThanOrEqual(2);
    transport.refuseConnections(false);
    await session.whenReady(5000);
  });
});

describe('Session durability hooks', () => {
  it('rejects send() with a clear error when the session closes with the frame still queued', async () => {
    const transport = createDummyTransport({ scheduler: false }); // never accepts: the frame stays queued
    const session = start(transport);
    const sending = session.send(FrameType.EXEC_RESULT, { run_id: 'r', task_id: 't', status: 'SUCCEEDED', result: {} });
    await new Promise((r) => setTimeout(r, 20));
    await session.close();
    const err = await sending.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err) && err.code).toBe('E.TRANSPORT.FAILURE');
    expect((err as Error).message).toMatch(/still queued; not sent/);
  });

  it('holds the ack of an inbound frame until persistInbound says it is durable', async () => {
    const transport = createDummyTransport();
    let release!: () => void;
    const durable = new Promise<void>((resolve) => {
      release = resolve;
    });
    const persisted: string[] = [];
    const session = startTestSession(transport, config(), {
      persistInbound: (frame) => {
        persisted.push(frame.id);
        return durable;
      },
    });
    sessions.push(session);
    await session.whenReady(5000);
    const frame = await transport.send(FrameType.EXEC_DISPATCH, dispatch('t1'));
    await session.receive();
    await new Promise((r) => setTimeout(r, 50));
    const acksFor = (): Frame[] =>
      transport.sent.filter((f) => f.type === FrameType.ACK && ((f.payload as { ack_seq?: number }).ack_seq ?? 0) >= 1);
    expect(persisted).toEqual([frame.id]);
    expect(acksFor()).toEqual([]);
    release();
    await transport.waitFor((f) => f.type === FrameType.ACK && ((f.payload as { ack_seq?: number }).ack_seq ?? 0) >= 1);
    expect(acksFor().length).toBeGreaterThan(0);
  });
});
