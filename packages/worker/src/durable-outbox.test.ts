import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFaultInjectingStore, createJournalStore } from '@astraflow/outbox';
import { ErrorCode, FrameType, type Frame } from '@astraflow/protocol';
import { createDummyTransport, type DummyTransport } from '@astraflow/transport-dummy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DurableOutbox } from './durable-outbox.js';
import { Session } from './session/session.js';
import { compileSessionConfig } from './session/session-config.js';
import { testDispatch, testRegister, testSessionConfig } from './session/session.test-helper.js';

let dir: string;
const closers: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'astra-durable-'));
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

function session(transport: DummyTransport, durable: () => DurableOutbox | undefined): Session {
  const s = new Session({
    config: compileSessionConfig(
      testSessionConfig(dir, {
        worker_name: 'w',
        worker_instance_id: 'wid-1',
        auth_token: 't',
        reconnect_jitter: 0,
        data_dir: join(dir, 'data'),
      }),
    ),
    transport,
    register: testRegister,
    persistInbound: (frame) => durable()?.recordInbound(frame),
  });
  closers.push(() => s.close());
  return s;
}

const dispatchPayload = testDispatch('t1', {}, 'r1');

async function waitUntil(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('DurableOutbox', () => {
  it('records a dispatch before acking it; after a crash, replays the stored answer under its id and cancels the unfinished dispatch', async () => {
    const outboxDir = join(dir, 'outbox');
    // First run: one dispatch answered (the ack never comes back: the scheduler does not ack), one left running.
    const store1 = await createJournalStore({ dir: outboxDir });
    const t1 = createDummyTransport();
    t1.scheduler!.shouldAck = () => false;
    let d1: DurableOutbox | undefined;
    const s1 = session(t1, () => d1);
    d1 = new DurableOutbox({ session: s1, store: store1 });
    await s1.start();
    await s1.whenReady(5000);
    const answered = await t1.send(FrameType.EXEC_DISPATCH, dispatchPayload);
    const running = await t1.send(FrameType.EXEC_DISPATCH, { ...dispatchPayload, task_id: 't2' });
    await s1.receive();
    await s1.receive();
    await waitUntil(() => store1.stats().records === 2);
    const receipt = await d1.send(
      FrameType.EXEC_RESULT,
      { run_id: 'r1', task_id: 't1', status: 'SUCCEEDED', result: {} },
      { corr: answered.id, ackRequest: true },
    );
    await waitUntil(() => t1.delivered.some((f) => f.id === receipt.frame.id));
    expect(store1.stats().records).toBe(2); // the answer replaced its dispatch; the running one stays
    await store1.close(); // the process dies here (nothing more is written)

    // Second run in the same folder.
    const store2 = await createJournalStore({ dir: outboxDir });
    expect(store2.recovered.map((r) => r.kind).sort()).toEqual(['answer', 'dispatch']);
    const t2 = createDummyTransport();
    let d2: DurableOutbox | undefined;
    const s2 = session(t2, () => d2);
    d2 = new DurableOutbox({ session: s2, store: store2 });
    const replayed = await d2.replay();
    await s2.start();
    await Promise.all(replayed.map((r) => r.acked));
    const out = t2.delivered.filter((f) => f.type === FrameType.EXEC_RESULT || f.type === FrameType.EXEC_ERROR);
    expect(out.find((f) => f.type === FrameType.EXEC_RESULT)).toMatchObject({ id: receipt.frame.id, corr: answered.id });
    expect(out.find((f) => f.type === FrameType.EXEC_ERROR)).toMatchObject({
      corr: running.id,
      payload: { code: ErrorCode.RUNNER_CANCELLED, context: { details: { reason: 'worker_restart', task_id: 't2' } } },
    });
    expect(d2.stats).toMatchObject({ replayedAnswers: 1, cancelledAtStart: 1 });
    await waitUntil(() => store2.stats().records === 0);
    expect(t2.violations).toEqual([]);
    await store2.close();
  });

  it('refuses a dispatch it could not record, still sends answers, and takes dispatches again once writes work', async () => {
    const store = createFaultInjectingStore(await createJournalStore({ dir: join(dir, 'outbox') }));
    const transport = createDummyTransport();
    let durable: DurableOutbox | undefined;
    const s = session(transport, () => durable);
    durable = new DurableOutbox({ session: s, store });
    await s.start();
    await s.whenReady(5000);
    store.fail('ENOSPC');
    await transport.send(FrameType.EXEC_DISPATCH, dispatchPayload);
    const refusedFrame: Frame = await s.receive();
    expect(await durable.refuses(refusedFrame)).toBe(true);
    expect(await durable.refuses(refusedFrame)).toBe(false); // once
    const receipt = await durable.send(
      FrameType.EXEC_RESULT,
      { run_id: 'r1', task_id: 't1', status: 'SUCCEEDED', result: {} },
      { corr: refusedFrame.id },
    );
    await receipt.acked;
    expect(durable.stats.writeFailures).toBeGreaterThan(0);
    store.fail(undefined);
    await transport.send(FrameType.EXEC_DISPATCH, { ...dispatchPayload, task_id: 't2' });
    const accepted = await s.receive();
    expect(await durable.refuses(accepted)).toBe(false);
    expect(store.stats().records).toBe(1);
    await store.close();
  });
});

describe('DurableOutbox replay of bad records', () => {
  it('drops a stored answer whose payload fails its schema, and a record of unknown kind, instead of failing the start', async () => {
    const store = await createJournalStore({ dir: join(dir, 'outbox') });
    await store.put({
      key: 'a:bad',
      kind: 'answer',
      at: 1,
      data: { type: FrameType.EXEC_RESULT, payload: { bogus: true }, corr: null, seq: null },
    });
    await store.put({ key: 'x:1', kind: 'mystery', at: 2, data: {} });
    await store.close();
    const again = await createJournalStore({ dir: join(dir, 'outbox') });
    const transport = createDummyTransport();
    let durable: DurableOutbox | undefined;
    const s = session(transport, () => durable);
    durable = new DurableOutbox({ session: s, store: again });
    const replayed = await durable.replay();
    expect(replayed).toHaveLength(1);
    await expect(replayed[0]!.acked).rejects.toThrow();
    await waitUntil(() => again.stats().records === 0);
    await again.close();
  });
});
