import { AstraError, ErrorCode, FrameType, type Frame } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { createDummyTransport } from './dummy-transport.js';
import { dispatchPayload, registerPayload, resultPayload, ScriptedWorker } from './scripted-worker.test-helper.js';

describe('createDummyTransport with its scheduler', () => {
  it('answers handshake and register with acks, then accepts a fresh session', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    expect(transport.name).toBe('dummy');
    expect(transport.connections).toBe(1);

    const hs = await worker.send(
      FrameType.HANDSHAKE,
      {
        protocol: 1,
        auth: { mode: 'token' },
        worker: { worker_name: 'w', worker_instance_id: 'inst-7', version: '1.0.0', hostname: 'h' },
      },
      { ackRequest: true, corr: 'c-hs' },
    );
    const hsAck = await worker.ackFor(hs.id);
    expect(hsAck.payload).toEqual({ ok: true, for: hs.id });
    expect(hsAck.corr).toBe('c-hs');
    expect(hsAck.session_seq).toBeUndefined();
    expect(hsAck.sender.role).toBe('scheduler');

    const reg = await worker.send(FrameType.REGISTER, registerPayload, { ackRequest: true });
    await worker.ackFor(reg.id);
    const accept = await worker.next((f) => f.type === FrameType.SESSION_ACCEPT);
    expect(accept.payload).toMatchObject({ worker_instance_id: 'inst-7', resumed: false });
    expect(typeof accept.payload.session_id).toBe('string');
    expect(typeof accept.payload.session_token).toBe('string');
    expect(transport.acceptedSessions).toBe(1);
    expect(transport.sent.map((f) => f.type)).toEqual([FrameType.HANDSHAKE, FrameType.REGISTER]);
    expect(transport.violations).toEqual([]);
    expect(worker.reentered).toBe(false);
  });

  it('gives a worker without an instance id a new one', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    const accept = await worker.establish();
    expect(accept.payload.worker_instance_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('acks business frames with the receive window state and delivers them once, in order', async () => {
    const transport = createDummyTransport({ windowSize: 8 });
    const worker = await ScriptedWorker.connect(transport);
    await worker.establish();

    const r2 = await worker.send(FrameType.EXEC_RESULT, resultPayload('t2'), { seq: 2, ackRequest: true, corr: 'd-2' });
    const ack2 = await worker.ackFor(r2.id);
    expect(ack2.payload).toEqual({ ok: true, ack_seq: 0, ack_bitmap: 0b10, recv_window: 8, for: r2.id });
    expect(ack2.corr).toBe('d-2');
    expect(transport.delivered).toEqual([]);

    const fb = await worker.send(
      FrameType.EXEC_FEEDBACK,
      { run_id: 'run-1', task_id: 't1', progress: 0.5 },
      { seq: 1, ackRequest: false },
    );
    const ack1 = await worker.next((f) => f.type === FrameType.ACK && f.payload.ack_seq === 2);
    // Not asked for: no `for`, no envelope ack.for, but the window state is there.
    expect(ack1.payload).toEqual({ ok: true, ack_seq: 2, ack_bitmap: 0, recv_window: 8 });
    expect(ack1.ack).toBeUndefined();

    const dup = await worker.send(FrameType.EXEC_RESULT, resultPayload('t2'), { id: r2.id, seq: 2, ackRequest: true });
    const dupAck = await worker.next((f) => f.type === FrameType.ACK && f !== ack2 && f.ack?.for === dup.id);
    expect(dupAck.payload.ack_seq).toBe(2);

    await transport.scheduler?.waitFor((f) => f.session_seq === 2);
    expect(transport.delivered.map((f) => [f.session_seq, f.id])).toEqual([
      [1, fb.id],
      [2, r2.id],
    ]);
    expect(transport.scheduler?.received.filter((f) => f.id === r2.id)).toHaveLength(2);
    expect(transport.violations).toEqual([]);
  });

  it('numbers outbound frames, asks for acks and honours the advertised window', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    const sending = transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('a'), { id: 'd-a', seq: 4 });
    await worker.establish();
    const first = await sending;
    expect(first).toMatchObject({ id: 'd-a', seq: 4, session_seq: 1, ack: { request: true } });
    await worker.next((f) => f.id === 'd-a');

    // Until the worker's first ack says how big its window is, one frame at a time.
    const second = transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('b'), { id: 'd-b' });
    const third = transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('c'), { id: 'd-c' });
    expect(transport.scheduler?.state).toMatchObject({ unacked: 1, queued: 2 });
    await worker.ack(first, { ack_seq: 1, recv_window: 1 });
    expect((await second).session_seq).toBe(2);
    await worker.next((f) => f.id === 'd-b');
    expect(transport.scheduler?.state).toMatchObject({ unacked: 1, queued: 1, sendWindow: 1 });

    await worker.ack(await second, { ack_seq: 2, recv_window: 4 });
    expect((await third).session_seq).toBe(3);
    const dispatches = worker.inbox.items.filter((f) => f.type === FrameType.EXEC_DISPATCH);
    expect(dispatches.map((f) => f.session_seq)).toEqual([1, 2, 3]);
    expect(transport.violations).toEqual([]);
  });

  it('resumes a session after a disconnect and sends again what was not acked', async () => {
    const transport = createDummyTransport();
    let worker = await ScriptedWorker.connect(transport);
    const accept = await worker.establish({ instanceId: 'inst-1' });
    const d1 = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('1'), { id: 'd-1' });
    await worker.next((f) => f.id === 'd-1');
    await worker.ack(d1, { ack_seq: 1 });
    await transport.scheduler?.waitFor(() => transport.scheduler?.state.unacked === 0);
    const d2 = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('2'), { id: 'd-2' });
    const d3 = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('3'), { id: 'd-3' });
    expect([d2.session_seq, d3.session_seq]).toEqual([2, 3]);
    // The worker saw d-2 but its ack never left; then the link drops.
    await worker.next((f) => f.id === 'd-3');
    transport.disconnect();
    await expect.poll(() => worker.closes).toHaveLength(1);
    expect(worker.closes[0]).toMatchObject({ code: 1006, failure: 'network' });
    expect(transport.isConnected).toBe(false);
    await expect(worker.conn.send('{}')).rejects.toMatchObject({ code: ErrorCode.TRANSPORT_FAILURE });

    worker = await ScriptedWorker.connect(transport);
    worker.senderId = 'inst-1';
    const resume = await worker.send(
      FrameType.RESUME,
      { session_id: accept.payload.session_id, session_token: accept.payload.session_token, last_seen_seq: 2 },
      { ackRequest: true },
    );
    await worker.ackFor(resume.id);
    const resumed = await worker.next((f) => f.type === FrameType.SESSION_ACCEPT);
    expect(resumed.payload).toMatchObject({
      session_id: accept.payload.session_id,
      session_token: accept.payload.session_token,
      worker_instance_id: 'inst-1',
      resumed: true,
    });
    // last_seen_seq 2 acknowledges d-2, so only d-3 comes again: same id, same session_seq.
    const again = await worker.next((f) => f.type === FrameType.EXEC_DISPATCH);
    expect(again).toEqual(d3);
    expect(worker.inbox.items.filter((f) => f.type === FrameType.EXEC_DISPATCH)).toHaveLength(1);
    expect(transport.acceptedSessions).toBe(2);
    expect(transport.scheduler?.state).toMatchObject({ resumed: true, unacked: 1, nextSendSeq: 4 });
    expect(transport.violations).toEqual([]);
  });

  it('refuses a resume of an unknown session or with a wrong token', async () => {
    const transport = createDummyTransport();
    const first = await ScriptedWorker.connect(transport);
    const accept = await first.establish();
    transport.disconnect();

    const wrongToken = await ScriptedWorker.connect(transport);
    await wrongToken.send(
      FrameType.RESUME,
      { session_id: accept.payload.session_id, session_token: 'f'.repeat(64) },
      { ackRequest: true },
    );
    const reset1 = await wrongToken.next((f) => f.type === FrameType.RESET);
    expect(reset1.payload.code).toBe('E.SESSION.INVALID_TOKEN');
    await expect.poll(() => wrongToken.closes).toHaveLength(1);

    const unknown = await ScriptedWorker.connect(transport);
    await unknown.send(
      FrameType.RESUME,
      { session_id: 'no-such-session', session_token: accept.payload.session_token },
      { ackRequest: true },
    );
    const reset2 = await unknown.next((f) => f.type === FrameType.RESET);
    expect(reset2.payload.code).toBe('E.SESSION.UNKNOWN');
    expect(unknown.inbox.items.some((f) => f.type === FrameType.ACK)).toBe(false);
    await expect.poll(() => unknown.closes).toHaveLength(1);

    // Starting afresh still works.
    const fresh = await ScriptedWorker.connect(transport);
    expect((await fresh.establish()).payload.session_id).not.toBe(accept.payload.session_id);
  });

  it('resets and closes with 1008 when the token is wrong', async () => {
    const transport = createDummyTransport({ token: 's3cret' });
    const worker = await ScriptedWorker.connect(transport);
    await worker.handshake({ token: 'nope' });
    const reset = await worker.next((f) => f.type === FrameType.RESET);
    expect(reset.payload).toMatchObject({ code: 'E.AUTH.INVALID_TOKEN' });
    await expect.poll(() => worker.closes).toHaveLength(1);
    expect(worker.closes[0]?.code).toBe(1008);
    // The reset arrived before the close.
    expect(worker.inbox.items.map((f) => f.type)).toEqual([FrameType.RESET]);

    const good = await ScriptedWorker.connect(transport);
    expect((await good.establish({ token: 's3cret' })).payload.resumed).toBe(false);
  });

  it('reset() forgets the session and drain() reaches the worker', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    await worker.establish();
    transport.drain({ reason: 'maintenance', deadline_ms: 1000 });
    const drain = await worker.next((f) => f.type === FrameType.DRAIN);
    expect(drain.payload).toEqual({ reason: 'maintenance', deadline_ms: 1000 });
    transport.reset('E.SESSION.DENIED', 'go away', 250);
    const reset = await worker.next((f) => f.type === FrameType.RESET);
    expect(reset.payload).toEqual({ code: 'E.SESSION.DENIED', reason: 'go away', retry_after_ms: 250 });
    await expect.poll(() => worker.closes).toHaveLength(1);
    expect(worker.closes[0]).toMatchObject({ code: 1000, failure: 'none' });
    expect(transport.scheduler?.state.sessionId).toBeNull();
  });

  it('refuses connections on demand with a classified transport failure', async () => {
    const transport = createDummyTransport();
    transport.refuseConnections('auth');
    const error = await ScriptedWorker.connect(transport).catch((e: unknown) => e);
    expect(AstraError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: ErrorCode.TRANSPORT_FAILURE, details: { failure: 'auth', status: 401 } });
    transport.refuseConnections();
    await expect(ScriptedWorker.connect(transport)).rejects.toMatchObject({ details: { failure: 'network' } });
    expect(transport.connections).toBe(0);
    transport.refuseConnections(false);
    await ScriptedWorker.connect(transport);
    expect(transport.connections).toBe(1);

    const aborted = new AbortController();
    aborted.abort();
    await expect(transport.connect({ onMessage() {}, onClose() {} }, { signal: aborted.signal })).rejects.toMatchObject({
      code: ErrorCode.TRANSPORT_FAILURE,
    });
  });

  it('waitFor matches frames already sent, frames still to come, and times out clearly', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    const hs = await worker.handshake();
    await expect(transport.waitFor((f) => f.type === FrameType.HANDSHAKE)).resolves.toEqual(hs);
    const later = transport.waitFor((f) => f.type === FrameType.REGISTER);
    const reg = await worker.send(FrameType.REGISTER, registerPayload, { ackRequest: true });
    await expect(later).resolves.toEqual(reg);
    await expect(transport.waitFor((f) => f.type === 'biz.never', 20)).rejects.toMatchObject({
      code: ErrorCode.TIMEOUT,
    });
  });

  it('records violations: garbage, misplaced session_seq, foreign tenant, wrong role, early business', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    await worker.conn.send('not json');
    const early = await worker.send(FrameType.EXEC_RESULT, resultPayload('x'), { seq: 1, ackRequest: true });
    await worker.establish();
    await worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } }, { seq: 3 });
    await worker.send(FrameType.EXEC_RESULT, resultPayload('y'), { ackRequest: true });
    worker.tenant = 'other';
    await worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    worker.tenant = 'default';
    const asScheduler = worker.frame(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await worker.conn.send(JSON.stringify({ ...asScheduler, sender: { role: 'scheduler', id: 'x' } }));
    await worker.send(FrameType.EXEC_DISPATCH, dispatchPayload('z'), { seq: 1 });
    await worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await transport.scheduler?.waitFor((f) => f.type === FrameType.HEARTBEAT);

    expect(transport.invalid).toEqual(['not json']);
    const v = transport.violations;
    expect(v).toHaveLength(7);
    expect(v[0]).toMatch(/not JSON/);
    expect(v[1]).toContain(`${early.id}: business frame outside an accepted session`);
    expect(v[2]).toMatch(/control frame carries session_seq/);
    expect(v[3]).toMatch(/non-control frame lacks session_seq/);
    expect(v[4]).toMatch(/tenant 'other'/);
    expect(v[5]).toMatch(/sender.role is 'scheduler'/);
    expect(v[6]).toMatch(/may only be sent by a scheduler/);
    expect(transport.scheduler?.heartbeats).toHaveLength(1);
  });

  it('flags frames whose sender.id is not the accepted worker_instance_id', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    await worker.establish();
    worker.senderId = 'stale-name';
    await worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await transport.scheduler?.waitFor((f) => f.type === FrameType.HEARTBEAT);
    expect(transport.violations).toEqual([expect.stringMatching(/sender.id 'stale-name'/)]);
  });

  it('delivers inbound frames asynchronously, never inside the worker call', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    transport.inject({ hello: 'raw object' });
    expect(worker.garbage).toEqual([]);
    await Promise.resolve();
    expect(worker.garbage).toEqual([JSON.stringify({ hello: 'raw object' })]);
    const sending = worker.handshake();
    expect(worker.inbox.items).toEqual([]);
    await sending;
    await worker.next((f) => f.type === FrameType.ACK);
    expect(worker.reentered).toBe(false);
  });

  it('rejects an invalid outbound payload instead of sending it', async () => {
    const transport = createDummyTransport();
    await expect(transport.send(FrameType.EXEC_DISPATCH, { run_id: 'r' } as never)).rejects.toMatchObject({
      code: ErrorCode.FRAME_INVALID,
    });
    await expect(transport.send(FrameType.DRAIN, {})).rejects.toMatchObject({ code: ErrorCode.FRAME_INVALID });
    expect(() => transport.inject('{}')).toThrow(/not connected/);
  });

  it('a worker-side close reaches onClose once with the given code', async () => {
    const transport = createDummyTransport();
    const worker = await ScriptedWorker.connect(transport);
    worker.conn.close(1000, 'bye');
    worker.conn.close(1000, 'again');
    await expect.poll(() => worker.closes.length).toBe(1);
    await Promise.resolve();
    expect(worker.closes).toEqual([{ code: 1000, reason: 'bye', failure: 'none' }]);
    expect(worker.conn.isOpen).toBe(false);
  });
});

describe('createDummyTransport without a scheduler', () => {
  it('only records and injects, numbering send() from 1 per fresh accept', async () => {
    const transport = createDummyTransport({ scheduler: false });
    const worker = await ScriptedWorker.connect(transport);
    await worker.handshake();
    await new Promise((r) => setTimeout(r, 5));
    expect(worker.inbox.items).toEqual([]);
    expect(transport.scheduler).toBeUndefined();
    expect(transport.sent.map((f) => f.type)).toEqual([FrameType.HANDSHAKE]);

    const a = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('a'));
    const b = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('b'));
    expect([a.session_seq, b.session_seq]).toEqual([1, 2]);
    expect(a.ack).toEqual({ request: true });
    transport.inject({
      type: FrameType.SESSION_ACCEPT,
      id: 'acc-2',
      ts: new Date().toISOString(),
      tenant: 'default',
      sender: { role: 'scheduler', id: 'test' },
      payload: { session_id: 's', session_token: 't', worker_instance_id: 'w', resumed: false },
    });
    const c = await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload('c'));
    expect(c.session_seq).toBe(1);
    const got = await worker.next((f: Frame) => f.id === c.id);
    expect(got.session_seq).toBe(1);
    expect(worker.inbox.items.map((f) => f.type)).toEqual([
      FrameType.EXEC_DISPATCH,
      FrameType.EXEC_DISPATCH,
      FrameType.SESSION_ACCEPT,
      FrameType.EXEC_DISPATCH,
    ]);

    await worker.conn.send('{"broken":');
    await worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } }, { seq: 9 });
    expect(transport.invalid).toEqual(['{"broken":']);
    expect(transport.violations).toHaveLength(2);
    expect(() => transport.reset('E.SESSION.DENIED', 'x')).toThrow(/scheduler: true/);
  });
});
