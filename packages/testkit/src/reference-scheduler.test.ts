import { ErrorCode, FrameType, isSeqAcked, ReceiveWindow, type AckPayload, type Frame } from '@astraflow/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { startReferenceScheduler, type ReferenceScheduler, type ReferenceSchedulerOptions } from './reference-scheduler.js';
import { dispatchPayload, registerPayload, resultPayload, WsWorker } from './ws-worker.test-helper.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

async function start(options: ReferenceSchedulerOptions = {}): Promise<ReferenceScheduler> {
  const scheduler = await startReferenceScheduler(options);
  open.push(scheduler);
  return scheduler;
}

async function connect(scheduler: ReferenceScheduler, headers: Record<string, string> = {}): Promise<WsWorker> {
  const worker = await WsWorker.connect(scheduler.url, headers);
  open.push(worker);
  return worker;
}

describe('startReferenceScheduler: session', () => {
  it('listens on 127.0.0.1 and runs handshake → register → accept, then records registers and heartbeats', async () => {
    const scheduler = await start({ token: 'tok' });
    expect(scheduler.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/worker$/);
    const worker = await connect(scheduler);
    const accept = await worker.establish({ token: 'tok', instanceId: 'inst-9' });
    expect(accept.payload).toMatchObject({ worker_instance_id: 'inst-9', resumed: false });
    await expect(scheduler.waitForSession()).resolves.toEqual(accept);
    expect(scheduler.state).toMatchObject({ phase: 'ready', sessionId: accept.payload.session_id, recvBase: 0 });

    const reg = worker.send(FrameType.REGISTER, registerPayload, { ackRequest: true });
    await worker.ackFor(reg.id);
    worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await scheduler.waitFor((f) => f.type === FrameType.HEARTBEAT);
    expect(scheduler.registers).toHaveLength(2);
    expect(scheduler.heartbeats).toHaveLength(1);
    expect(scheduler.handshakes).toHaveLength(1);
    expect(scheduler.accepts).toBe(1);
    expect(scheduler.connections).toBe(1);
    expect(worker.inbox.items.filter((f) => f.type === FrameType.SESSION_ACCEPT)).toHaveLength(1);
    expect(scheduler.violations).toEqual([]);
  });

  it('signs the session token as HMAC-SHA256(secret, session_id)', async () => {
    const { createHmac } = await import('node:crypto');
    const scheduler = await start({ hmacSecret: 'k' });
    const worker = await connect(scheduler);
    const accept = await worker.establish();
    expect(accept.payload.session_token).toBe(createHmac('sha256', 'k').update(accept.payload.session_id).digest('hex'));
  });

  it('holds the accept back while suppressAccept is set, and delays it by acceptDelayMs', async () => {
    const scheduler = await start({ suppressAccept: true });
    const first = await connect(scheduler);
    const hs = first.send(
      FrameType.HANDSHAKE,
      { protocol: 1, auth: { mode: 'token' }, worker: { worker_name: 'w', version: '1', hostname: 'h' } },
      { ackRequest: true },
    );
    await first.ackFor(hs.id);
    const reg = first.frame(FrameType.REGISTER, registerPayload, { ackRequest: true });
    first.sendFrame(reg);
    await first.ackFor(reg.id);
    // The retransmitted register is acked again: had an accept been sent, it would have come before this ack.
    first.sendFrame(reg);
    await expect.poll(() => first.inbox.items.filter((f) => f.ack?.for === reg.id).length).toBe(2);
    expect(first.inbox.items.some((f) => f.type === FrameType.SESSION_ACCEPT)).toBe(false);
    expect(scheduler.state.phase).toBe('registered');
    expect(scheduler.registers).toHaveLength(1);

    scheduler.suppressAccept = false;
    scheduler.acceptDelayMs = 30;
    const second = await connect(scheduler);
    const session = scheduler.waitForSession({ resumed: false });
    const accept = await second.establish();
    await expect(session).resolves.toEqual(accept);
    expect(scheduler.violations).toEqual([]);
  });
});

describe('startReferenceScheduler: reliable outbound stream', () => {
  it('retransmits a dispatch whose ack is withheld, unchanged, until the worker acks it', async () => {
    const scheduler = await start({ retransmitBaseMs: 20, retransmitMaxMs: 40 });
    const worker = await connect(scheduler);
    await worker.establish();
    const { id, done } = scheduler.dispatch(dispatchPayload('t1'), { seq: 7 });

    const first = await worker.next((f) => f.id === id);
    expect(first).toMatchObject({ type: FrameType.EXEC_DISPATCH, session_seq: 1, seq: 7, ack: { request: true } });
    const copies = () => worker.raw.filter((text) => text.includes(id));
    await expect.poll(() => copies().length, { timeout: 3000 }).toBeGreaterThanOrEqual(3);
    for (const text of copies()) expect(JSON.parse(text)).toEqual(first);
    expect(scheduler.retransmissions).toBeGreaterThanOrEqual(2);

    worker.ack(first, { ack_seq: 1 });
    await expect.poll(() => scheduler.state.unacked).toBe(0);
    const result = worker.reliable(FrameType.EXEC_RESULT, resultPayload('t1'), { corr: id });
    worker.sendFrame({ ...result, seq: 7 });
    const answer = await done;
    expect(answer).toMatchObject({ type: FrameType.EXEC_RESULT, corr: id, seq: 7, session_seq: 1 });
    expect(scheduler.violations).toEqual([]);
  });

  it('resumes after kill(): accept with resumed:true, then the unacked frames again', async () => {
    const scheduler = await start();
    let worker = await connect(scheduler);
    const accept = await worker.establish({ instanceId: 'inst-r' });
    const sent = await scheduler.send(FrameType.EXEC_DISPATCH, dispatchPayload('r'), { id: 'd-r', corr: 'c-r' });
    await worker.next((f) => f.id === 'd-r');

    expect(scheduler.kill()).toBe(true);
    expect((await worker.closed).code).toBe(1006);
    await expect.poll(() => scheduler.state.phase).toBe('disconnected');

    worker = await connect(scheduler);
    worker.senderId = 'inst-r';
    const resumedSession = scheduler.waitForSession({ resumed: true });
    const resume = worker.send(
      FrameType.RESUME,
      { session_id: accept.payload.session_id, session_token: accept.payload.session_token, last_seen_seq: 0 },
      { ackRequest: true },
    );
    await worker.ackFor(resume.id);
    const resumed = await resumedSession;
    expect(resumed.payload).toMatchObject({ session_id: accept.payload.session_id, resumed: true });
    const again = await worker.next((f) => f.id === 'd-r');
    expect(again).toEqual(sent);
    expect(scheduler.resumes).toHaveLength(1);
    expect(scheduler.violations).toEqual([]);
  });

  it('reset() sends control.reset, closes, and the session can no longer be resumed', async () => {
    const scheduler = await start();
    let worker = await connect(scheduler);
    const accept = await worker.establish();
    expect(scheduler.reset('E.SESSION.DENIED', 'maintenance', 1500)).toBe(true);
    const reset = await worker.next((f) => f.type === FrameType.RESET);
    expect(reset.payload).toEqual({ code: 'E.SESSION.DENIED', reason: 'maintenance', retry_after_ms: 1500 });
    expect((await worker.closed).code).toBe(1000);

    worker = await connect(scheduler);
    worker.send(
      FrameType.RESUME,
      { session_id: accept.payload.session_id, session_token: accept.payload.session_token, last_seen_seq: 0 },
      { ackRequest: true },
    );
    const refused = await worker.next((f) => f.type === FrameType.RESET);
    expect(refused.payload.code).toBe(ErrorCode.SESSION_UNKNOWN);
    await worker.closed;
    expect(scheduler.reset('E.SESSION.DENIED', 'nobody there')).toBe(false);
  });

  it('re-sends frames left unacked by a replaced session in the next fresh session', async () => {
    const scheduler = await start({ retransmitBaseMs: 1000, retransmitMaxMs: 1000 });
    let worker = await connect(scheduler);
    await worker.establish();
    const { id, done } = scheduler.dispatch(dispatchPayload('x'));
    await worker.next((f) => f.id === id);
    scheduler.reset('E.SESSION.STALE_BINDING', 'rebind');
    await worker.closed;

    worker = await connect(scheduler);
    await worker.establish();
    const again = await worker.next((f) => f.id === id);
    expect(again.session_seq).toBe(1);
    worker.ack(again, { ack_seq: 1 });
    worker.sendFrame(worker.reliable(FrameType.EXEC_ERROR, { code: 'E.RUNNER.FAILURE', message: 'boom' }, { corr: id }));
    expect((await done).type).toBe(FrameType.EXEC_ERROR);
  });

  it('installPackage and uninstallPackage resolve with the matching biz.pkg.event; drain reaches the worker', async () => {
    const scheduler = await start();
    const worker = await connect(scheduler);
    await worker.establish();
    const installing = scheduler.installPackage({ name: 'demo', version: '1.0.0' }, { id: 'inst-cmd' });
    const cmd = await worker.next((f) => f.type === FrameType.PKG_INSTALL);
    expect(cmd).toMatchObject({ id: 'inst-cmd', session_seq: 1 });
    worker.ack(cmd, { ack_seq: 1 });
    worker.sendFrame(
      worker.reliable(FrameType.PKG_EVENT, { name: 'demo', version: '1.0.0', status: 'installed' }, { corr: 'other' }),
    );
    worker.sendFrame(
      worker.reliable(FrameType.PKG_EVENT, { name: 'demo', version: '1.0.0', status: 'installed' }, { corr: 'inst-cmd' }),
    );
    expect((await installing).corr).toBe('inst-cmd');

    const uninstalling = scheduler.uninstallPackage({ name: 'demo' });
    const un = await worker.next((f) => f.type === FrameType.PKG_UNINSTALL);
    worker.ack(un, { ack_seq: 2 });
    worker.sendFrame(
      worker.reliable(FrameType.PKG_EVENT, { name: 'demo', version: '1.0.0', status: 'uninstalled' }, { corr: un.id }),
    );
    expect((await uninstalling).payload.status).toBe('uninstalled');
    // The existing scheduler validates biz.pkg.event with its unchanged schema: installed | failed only.
    expect(scheduler.violations).toEqual([
      expect.stringMatching(
        /^biz\.pkg\.event \S+ fails the scheduler's schema: \/status must be equal to one of the allowed values/,
      ),
    ]);
    scheduler.violations.length = 0;

    scheduler.drain({ reason: 'bye' });
    expect((await worker.next((f) => f.type === FrameType.DRAIN)).payload).toEqual({ reason: 'bye' });
    expect(scheduler.violations).toEqual([]);
  });

  it('accepts an uninstalled event only when told to; a catalog refuses manifests its schema refuses', async () => {
    const scheduler = await start({ acceptUninstallEvents: true, catalog: true });
    const worker = await connect(scheduler);
    await worker.establish();
    worker.sendFrame(worker.reliable(FrameType.PKG_EVENT, { name: 'demo', version: '1.0.0', status: 'uninstalled' }));
    await scheduler.waitFor((f) => f.type === FrameType.PKG_EVENT);
    expect(scheduler.violations).toEqual([]);

    const { readFile } = await import('node:fs/promises');
    const compatible = JSON.parse(
      await readFile(new URL('../../protocol/fixtures/js-manifests/catalog-compatible.manifest.json', import.meta.url), 'utf8'),
    ) as { name: string; version: string };
    const oldForm = { ...compatible, name: 'old', python: undefined, node: { requires: '>=20' } };
    delete oldForm.python;
    const reg = worker.send(
      FrameType.REGISTER,
      {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
        payload_types: [],
        packages: [],
        manifests: [
          { name: compatible.name, version: compatible.version, manifest: compatible },
          { name: 'old', version: compatible.version, manifest: oldForm },
        ],
      } as never,
      { ackRequest: true },
    );
    await worker.ackFor(reg.id);
    expect(scheduler.violations).toEqual([expect.stringMatching(/^manifest of old@1\.2\.0 would not load into the catalog: /)]);
    scheduler.violations.length = 0;
  });

  it('onFrame lets a test react: answering a middleware next.request', async () => {
    const scheduler = await start();
    const worker = await connect(scheduler);
    await worker.establish();
    const kinds: string[] = [];
    const off = scheduler.onFrame((frame, kind) => {
      kinds.push(`${kind}:${frame.type}`);
      if (frame.type !== FrameType.EXEC_NEXT_REQUEST) return;
      const { requestId, runId, nodeId, middlewareId } = frame.payload as Record<string, string>;
      void scheduler.send(
        FrameType.EXEC_NEXT_RESPONSE,
        {
          requestId: requestId ?? '',
          runId: runId ?? '',
          nodeId: nodeId ?? '',
          middlewareId: middlewareId ?? '',
          result: { ok: 1 },
        },
        { corr: requestId ?? null },
      );
    });
    worker.sendFrame(
      worker.reliable(
        FrameType.EXEC_NEXT_REQUEST,
        { requestId: 'nr-1', runId: 'run-1', nodeId: 'n', middlewareId: 'm' },
        { corr: 'nr-1' },
      ),
    );
    const response = await worker.next((f) => f.type === FrameType.EXEC_NEXT_RESPONSE);
    expect(response).toMatchObject({ corr: 'nr-1', session_seq: 1, payload: { requestId: 'nr-1', result: { ok: 1 } } });
    worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await scheduler.waitFor((f) => f.type === FrameType.HEARTBEAT);
    off();
    worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 1 } });
    await expect.poll(() => scheduler.heartbeats.length).toBe(2);
    expect(kinds).toEqual(['delivered:biz.exec.next.request', 'control:control.heartbeat']);
  });

  it('reports an invalid command payload through the promise instead of sending it', async () => {
    const scheduler = await start();
    const { done } = scheduler.dispatch({ run_id: 'r' } as never);
    await expect(done).rejects.toMatchObject({ code: ErrorCode.FRAME_INVALID });
    await expect(scheduler.send(FrameType.RESET, { code: 'x', reason: 'y' })).rejects.toMatchObject({
      code: ErrorCode.FRAME_INVALID,
    });
  });
});

describe('startReferenceScheduler: inbound stream', () => {
  it('acks worker frames with window state, delivers them once and in order, and can withhold acks', async () => {
    const scheduler = await start({ windowSize: 16 });
    const worker = await connect(scheduler);
    await worker.establish();
    scheduler.faults.withholdAcks = (f) => f.type === FrameType.EXEC_RESULT;
    const f1 = worker.reliable(FrameType.EXEC_FEEDBACK, { run_id: 'run-1', task_id: 't', progress: 0.1 });
    const r2 = worker.reliable(FrameType.EXEC_RESULT, resultPayload('t'), { corr: 'd' });
    const f3 = worker.reliable(FrameType.EXEC_FEEDBACK, { run_id: 'run-1', task_id: 't', progress: 1 });
    worker.sendFrame(f3);
    const ack3 = await worker.ackFor(f3.id);
    expect(ack3.payload).toEqual({ ok: true, ack_seq: 0, ack_bitmap: 0b100, recv_window: 16, for: f3.id });
    worker.sendFrame(r2);
    worker.sendFrame(f1);
    const ack1 = await worker.ackFor(f1.id);
    expect(ack1.payload).toMatchObject({ ack_seq: 3, ack_bitmap: 0 });
    // Acks go out in order, so a (wrong) ack for r2 would have arrived before ack1.
    expect(worker.inbox.items.some((f) => f.ack?.for === r2.id)).toBe(false);
    expect(scheduler.delivered.map((f) => f.id)).toEqual([f1.id, r2.id, f3.id]);

    worker.sendFrame(f3);
    await expect.poll(() => scheduler.received.filter((f) => f.id === f3.id).length).toBe(2);
    expect(scheduler.delivered).toHaveLength(3);
    await expect(scheduler.waitFor((f) => f.corr === 'd')).resolves.toEqual(r2);
    expect(scheduler.violations).toEqual([]);
  });

  it('records violations for invalid frames, binary messages and frames outside a session; emitRaw reaches the worker', async () => {
    const scheduler = await start();
    const worker = await connect(scheduler);
    worker.ws.send('{"type":');
    worker.ws.send(Buffer.from('{}'), { binary: true });
    worker.sendFrame(worker.reliable(FrameType.EXEC_RESULT, resultPayload('early')));
    await worker.establish();
    const hb = worker.frame(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    worker.sendFrame({ ...hb, payload: { healthy: true, metrics: { inflight: -1 } } });
    worker.send(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: 0 } });
    await scheduler.waitFor((f) => f.type === FrameType.HEARTBEAT);
    expect(scheduler.violations).toHaveLength(4);
    expect(scheduler.violations[0]).toMatch(/not JSON/);
    expect(scheduler.violations[1]).toMatch(/binary/);
    expect(scheduler.violations[2]).toMatch(/outside an accepted session/);
    expect(scheduler.violations[3]).toMatch(/payload.metrics.inflight/);

    scheduler.emitRaw('garbage!');
    await expect.poll(() => worker.raw.includes('garbage!')).toBe(true);
  });

  it('survives seeded chaos in both directions: every frame once, in order', async () => {
    const scheduler = await start({
      seed: 1234,
      retransmitBaseMs: 15,
      retransmitMaxMs: 30,
      faults: { dropIn: 0.25, dupIn: 0.25, reorderIn: 0.3, dropOut: 0.25, dupOut: 0.25, reorderOut: 0.3 },
    });
    expect(scheduler.seed).toBe(1234);
    const worker = await connect(scheduler);
    await worker.establish();

    // The worker side: a receive window for dispatches, retransmission of its own results until acked.
    const recv = new ReceiveWindow<Frame>(64);
    const got: Frame[] = [];
    const unacked = new Map<number, Frame>();
    worker.inbox.subscribe((f) => {
      if (f.type === FrameType.EXEC_DISPATCH && typeof f.session_seq === 'number') {
        got.push(...recv.offer(f.session_seq, f).delivered);
        worker.ack(f, recv.ackState());
      } else if (f.type === FrameType.ACK) {
        const { ack_seq: ackSeq, ack_bitmap: bitmap } = f.payload as AckPayload;
        for (const seq of [...unacked.keys()]) {
          if ((typeof ackSeq === 'number' && isSeqAcked(seq, ackSeq, bitmap ?? 0)) || f.ack?.for === unacked.get(seq)?.id) {
            unacked.delete(seq);
          }
        }
      }
    });
    const resend = setInterval(() => {
      for (const frame of unacked.values()) worker.sendFrame(frame);
    }, 15);
    try {
      const handles = Array.from({ length: 12 }, (_, i) => scheduler.dispatch(dispatchPayload(`c${i}`)));
      for (let i = 0; i < 20; i++) {
        const frame = worker.reliable(FrameType.EXEC_FEEDBACK, { run_id: 'run-1', task_id: 'chaos', progress: i / 20 });
        unacked.set(frame.session_seq as number, frame);
        worker.sendFrame(frame);
      }
      await expect.poll(() => got.length, { timeout: 8000 }).toBe(12);
      await expect.poll(() => unacked.size, { timeout: 8000 }).toBe(0);
      expect(got.map((f) => f.id)).toEqual(handles.map((h) => h.id));
      expect(got.map((f) => f.session_seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect(scheduler.delivered.map((f) => f.session_seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      for (const count of Object.values(scheduler.injected)) expect(count).toBeGreaterThan(0);
      expect(scheduler.violations).toEqual([]);
    } finally {
      clearInterval(resend);
    }
  });
});

describe('startReferenceScheduler: authentication and upgrades', () => {
  it('resets a wrong handshake token with E.AUTH.INVALID_TOKEN and closes with 1008', async () => {
    const scheduler = await start({ token: 'right' });
    const worker = await connect(scheduler);
    worker.send(
      FrameType.HANDSHAKE,
      { protocol: 1, auth: { mode: 'token', token: 'wrong' }, worker: { worker_name: 'w', version: '1', hostname: 'h' } },
      { ackRequest: true },
    );
    const reset = await worker.next((f) => f.type === FrameType.RESET);
    expect(reset.payload.code).toBe(ErrorCode.AUTH_INVALID_TOKEN);
    expect((await worker.closed).code).toBe(1008);
    expect(scheduler.accepts).toBe(0);
  });

  it('accepts the token from the Authorization header instead of the payload', async () => {
    const scheduler = await start({ token: 'right' });
    const worker = await connect(scheduler, { authorization: 'Bearer right' });
    const accept = await worker.establish();
    expect(accept.payload.resumed).toBe(false);
  });

  it('refuses upgrades with rejectUpgradeStatus unless the bearer token is right; unknown paths get 404', async () => {
    const scheduler = await start({ token: 'right', rejectUpgradeStatus: 401 });
    expect(await WsWorker.refusalStatus(scheduler.url)).toBe(401);
    expect(await WsWorker.refusalStatus(scheduler.url, { authorization: 'Bearer wrong' })).toBe(401);
    expect(await WsWorker.refusalStatus(scheduler.url, { authorization: 'Bearer right' })).toBe(101);
    expect(await WsWorker.refusalStatus(scheduler.url.replace('/ws/worker', '/elsewhere'))).toBe(404);
    expect(scheduler.upgradeRefusals).toBe(2);

    scheduler.rejectUpgradeStatus = undefined;
    const worker = await connect(scheduler);
    worker.send(
      FrameType.HANDSHAKE,
      { protocol: 1, auth: { mode: 'token' }, worker: { worker_name: 'w', version: '1', hostname: 'h' } },
      { ackRequest: true },
    );
    expect((await worker.next((f) => f.type === FrameType.RESET)).payload.code).toBe(ErrorCode.AUTH_MISSING_TOKEN);
  });

  it('close() ends connections with 1001 and rejects pending waits', async () => {
    const scheduler = await startReferenceScheduler();
    const worker = await WsWorker.connect(scheduler.url);
    const waiting = expect(scheduler.waitFor(() => false, 0)).rejects.toMatchObject({
      code: ErrorCode.TRANSPORT_FAILURE,
    });
    await scheduler.close();
    expect((await worker.closed).code).toBe(1001);
    await waiting;
    expect(await WsWorker.refusalStatus(scheduler.url)).toBe(-1);
  });
});
