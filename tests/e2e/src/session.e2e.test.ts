import { rm } from 'node:fs/promises';
import { AstraError, FrameType, createNoopLogger, type Frame } from '@astraflow/protocol';
import { startReferenceScheduler, type ReferenceScheduler } from '@astraflow/testkit';
import { createDummyTransport } from '@astraflow/transport-dummy';
import { createWsTransport } from '@astraflow/transport-ws';
import { Session, compileSessionConfig, setup } from '@astraflow/worker';
import { afterEach, describe, expect, it } from 'vitest';
import { TOKEN, scratch, sleep, testSettings } from './harness.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const register = () => ({
  capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
  payload_types: ['ext.e2e.ping'],
  packages: [],
  manifests: [],
});

/** A bare session (no business layer) against the reference scheduler over real loopback WebSockets. */
async function sessionAgainst(scheduler: ReferenceScheduler, overrides: Record<string, unknown> = {}) {
  const dir = await scratch();
  const settings = testSettings(dir, { scheduler_ws_url: scheduler.url, ...overrides });
  const session = new Session({
    config: compileSessionConfig(settings),
    transport: createWsTransport({ url: settings.scheduler_ws_url, token: settings.auth_token ?? '', pingIntervalMs: 0 }),
    register,
    heartbeatMetrics: () => ({ inflight: 0 }),
  });
  cleanups.push(async () => {
    await session.close();
    await rm(dir, { recursive: true, force: true });
  });
  await session.start();
  return session;
}

async function scheduler(options: Parameters<typeof startReferenceScheduler>[0] = {}) {
  const s = await startReferenceScheduler({ token: TOKEN, seed: 11, ...options });
  cleanups.push(() => s.close());
  return s;
}

const seqOf = (f: Frame) => (f.payload as { n: number }).n;

describe('session against the reference scheduler', () => {
  it('reaches READY, heartbeats at the configured cadence, and sends only schema-valid frames', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s, { heartbeat_interval_seconds: 0.2, heartbeat_jitter_seconds: 0.05 });
    await session.whenReady(10_000);
    expect(session.state).toBe('READY');
    await s.waitFor((f) => f.type === FrameType.HEARTBEAT && s.heartbeats.length >= 3, 5000);
    const times = s.heartbeats.map((f) => Date.parse(f.ts));
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      expect(gap).toBeGreaterThanOrEqual(180);
      expect(gap).toBeLessThan(250 + 150);
    }
    expect(s.handshakes).toHaveLength(1);
    expect(s.registers).toHaveLength(1);
    expect(s.violations).toEqual([]);
  });

  it('delivers every business frame exactly once and in order in both directions across 20 link kills', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s);
    await session.whenReady(10_000);
    let killed = 0;
    const killer = (async () => {
      while (killed < 20) {
        await s.waitForSession(undefined, 15_000);
        await sleep(40);
        if (s.kill()) killed++;
      }
    })();
    // Both directions keep flowing for as long as the killer works.
    let inboundSent = 0;
    let outboundSent = 0;
    const inbound = (async () => {
      while (killed < 20) {
        await s.send('ext.e2e.ping', { n: ++inboundSent });
        await sleep(1);
      }
    })();
    const outbound = (async () => {
      while (killed < 20) {
        await session.send('ext.e2e.pong', { n: ++outboundSent });
        await sleep(1);
      }
    })();
    const received: number[] = [];
    void (async () => {
      for (;;) received.push(seqOf(await session.receive()));
    })();
    await Promise.all([killer, inbound, outbound]);
    while (received.length < inboundSent || s.resumes.length < 20) await sleep(10);
    await s.waitFor((f) => f.type === 'ext.e2e.pong' && seqOf(f) === outboundSent, 20_000);
    expect(inboundSent).toBeGreaterThan(100);
    expect(outboundSent).toBeGreaterThan(100);
    expect(received).toEqual(Array.from({ length: inboundSent }, (_, i) => i + 1));
    const pongs = s.delivered.filter((f) => f.type === 'ext.e2e.pong').map(seqOf);
    expect(pongs).toEqual(Array.from({ length: outboundSent }, (_, i) => i + 1));
    expect(s.resumes.length).toBeGreaterThanOrEqual(20);
    expect(s.handshakes).toHaveLength(1);
    expect(s.violations).toEqual([]);
  });

  it('delivers inbound frames exactly once and in order despite 10% drops, duplicates and reordering', async () => {
    const s = await scheduler({
      faults: { dropOut: 0.1, dupOut: 0.1, reorderOut: 0.1 },
      retransmitBaseMs: 50,
      retransmitMaxMs: 200,
    });
    const session = await sessionAgainst(s);
    await session.whenReady(10_000);
    const total = 200;
    const sends = (async () => {
      for (let n = 1; n <= total; n++) await s.send('ext.e2e.ping', { n });
    })();
    const received: number[] = [];
    while (received.length < total) received.push(seqOf(await session.receive()));
    await sends;
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(session.stats.duplicateFramesIn).toBeGreaterThan(0);
    await sleep(300);
    expect(session.stats.appQueueDepth).toBe(0);
    expect(s.violations).toEqual([]);
  });

  it('retransmits a frame whose ack is withheld, with the same id and session_seq, until the ack comes', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s);
    await session.whenReady(10_000);
    s.faults.withholdAcks = (f: Frame) => f.type === 'ext.e2e.pong';
    const receipt = await session.send('ext.e2e.pong', { n: 1 });
    await sleep(400);
    const copies = s.received.filter((f) => f.id === receipt.frame.id);
    expect(copies.length).toBeGreaterThanOrEqual(3);
    expect(new Set(copies.map((f) => f.session_seq))).toEqual(new Set([receipt.frame.session_seq]));
    s.faults.withholdAcks = false;
    await receipt.acked;
    const after = s.received.filter((f) => f.id === receipt.frame.id).length;
    await sleep(600);
    expect(s.received.filter((f) => f.id === receipt.frame.id).length).toBe(after);
    expect(s.delivered.filter((f) => f.id === receipt.frame.id)).toHaveLength(1);
  });

  it('answers control.reset with a fresh handshake', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s);
    await session.whenReady(10_000);
    const first = session.sessionId;
    const again = new Promise<void>((resolve) => session.once('ready', () => resolve()));
    s.reset('E.SESSION.STALE_BINDING', 'scheduler restarted', 50);
    await again;
    expect(session.sessionId).not.toBe(first);
    expect(s.handshakes).toHaveLength(2);
    expect(s.resumes).toHaveLength(0);
  });

  it('logs and drops garbage, non-object JSON, invalid and oversized frames and stays READY', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s, { max_frame_bytes: 4096 });
    await session.whenReady(10_000);
    s.emitRaw('garbage {');
    s.emitRaw('"just a string"');
    s.emitRaw('[{"type":"biz.exec.dispatch"}]');
    s.emitRaw(JSON.stringify({ type: 'biz.exec.dispatch', id: 'x', ts: 'yesterday', tenant: 'default', payload: {} }));
    s.emitRaw(JSON.stringify({ padding: 'y'.repeat(10_000) }));
    await s.send('ext.e2e.ping', { n: 1 });
    expect(seqOf(await session.receive())).toBe(1);
    expect(session.stats.invalidFramesIn).toBe(5);
    expect(session.state).toBe('READY');
    expect(s.connections).toBe(1);
  });
});

describe('authentication failures', () => {
  it('ends with an auth error when the token is wrong and abort-on-auth is set (reset after handshake)', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s, { auth_token: 'wrong-token', reconnect_abort_on_auth_error: true });
    const err = await session.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err) && err.code).toBe('E.AUTH.INVALID_TOKEN');
    expect(String((err as Error).message)).not.toContain('wrong-token');
  });

  it('ends with an auth error when the upgrade is refused with 401 and abort-on-auth is set', async () => {
    const s = await scheduler({ rejectUpgradeStatus: 401 });
    const session = await sessionAgainst(s, { auth_token: 'wrong-token', reconnect_abort_on_auth_error: true });
    const err = await session.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err) && err.code.startsWith('E.AUTH.')).toBe(true);
    expect(String((err as Error).message)).toContain('401');
    expect(String((err as Error).message)).not.toContain('wrong-token');
  });

  it('ends with a protocol error when the upgrade is refused with 404 and abort-on-protocol is set', async () => {
    const s = await scheduler();
    const session = await sessionAgainst(s, {
      scheduler_ws_url: s.url.replace('/ws/worker', '/not/the/endpoint'),
      reconnect_abort_on_protocol_error: true,
    });
    const err = await session.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/protocol/);
    expect(String((err as Error).message)).toContain('404');
    expect(session.state).toBe('CLOSED');
  });

  it('keeps retrying with growing, jittered delays when abort-on-auth is off', async () => {
    const s = await scheduler({ rejectUpgradeStatus: 401 });
    const session = await sessionAgainst(s, {
      auth_token: 'wrong-token',
      reconnect_base_delay_seconds: 0.05,
      reconnect_max_delay_seconds: 2,
      reconnect_jitter: 0.3,
    });
    const entered: number[] = [];
    const left: number[] = [];
    session.on('state', (state, previous) => {
      if (state === 'BACKOFF') entered.push(performance.now());
      if (previous === 'BACKOFF') left.push(performance.now());
    });
    while (left.length < 5) await sleep(20);
    const delays = left.slice(0, 5).map((t, i) => t - entered[i]!);
    // base·2^(n−1)·(1±0.3): 50, 100, 200, 400, 800 ms ± 30%
    const expected = [50, 100, 200, 400, 800];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(Math.max(100, expected[i]! * 0.7) - 5);
      expect(d).toBeLessThan(Math.max(100, expected[i]! * 1.3) + 150);
    });
    expect(delays[4]!).toBeGreaterThan(delays[1]!);
    expect(session.state).not.toBe('CLOSED');
    expect(s.upgradeRefusals).toBeGreaterThanOrEqual(5);
  });
});

describe('the dummy transport', () => {
  it('brings a whole worker to READY with no network', async () => {
    const dir = await scratch();
    const transport = createDummyTransport({ token: TOKEN });
    const worker = await setup({ settings: testSettings(dir, { transport: 'dummy' }), transport, logger: createNoopLogger() });
    cleanups.push(async () => {
      await worker.stop({ graceMs: 100, flushMs: 100 });
      await rm(dir, { recursive: true, force: true });
    });
    await worker.session.whenReady(5000);
    expect(worker.state).toBe('READY');
    const reg = await transport.waitFor((f) => f.type === FrameType.REGISTER);
    expect((reg.payload as { payload_types: string[] }).payload_types).toContain(FrameType.EXEC_DISPATCH);
    expect(transport.violations).toEqual([]);
  });
});
