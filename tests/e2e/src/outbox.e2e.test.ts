import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { createFaultInjectingStore, createJournalStore } from '@astraflow/outbox';
import { ErrorCode, FrameType, type ExecErrorPayload, type ExecResultPayload, type Frame } from '@astraflow/protocol';
import { startReferenceScheduler, type ReferenceScheduler } from '@astraflow/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { TOKEN, installSample, scratch, sleep, startHarness, task } from './harness.js';
import { startWorkerProcess, type WorkerProcess } from './worker-process.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

async function schedulerWithSamples(): Promise<{ scheduler: ReferenceScheduler; install(): Promise<Frame> }> {
  const scheduler = await startReferenceScheduler({ token: TOKEN, seed: 13 });
  cleanups.push(() => scheduler.close());
  const files = await scheduler.serveFiles(sampleArchivesDir);
  const archive = sampleArchive('samples', '1.0.0');
  const url = `${files.baseUrl.replace(/\/$/, '')}/${archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '')}`;
  return {
    scheduler,
    install: () => scheduler.installPackage({ name: 'samples', version: '1.0.0', url, sha256: archive.sha256 }),
  };
}

async function workerFolder(): Promise<string> {
  const dir = await scratch('astra-outbox-');
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function track(proc: WorkerProcess): WorkerProcess {
  cleanups.push(() => proc.crash());
  return proc;
}

/** Resolves once the scheduler has sent more accepts than `before` (a worker (re)connected). */
async function nextAccept(scheduler: ReferenceScheduler, before: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (scheduler.accepts <= before) {
    if (Date.now() > deadline) throw new Error(`no session accept within ${timeoutMs} ms`);
    await sleep(10);
  }
}

const isAnswer = (f: Frame): boolean => f.type === FrameType.EXEC_RESULT || f.type === FrameType.EXEC_ERROR;

describe('durable outbox: no answer lost to a crash', () => {
  it('gives every one of 2 000 tasks exactly one final outcome across 20 kill -9 restarts', async () => {
    const TASKS = 2000;
    const KILLS = 20;
    const OUTSTANDING = 48;
    const { scheduler, install } = await schedulerWithSamples();
    const dir = await workerFolder();
    const extra = ['handler_dispatch_max_inflight: 16', 'concurrency_max_parallel: 16'];
    let worker = track(await startWorkerProcess(dir, scheduler.url, extra));
    await nextAccept(scheduler, 0);
    expect((await install()).payload).toMatchObject({ status: 'installed' });

    // The scheduler's side, as the real one behaves (docs/protocol.md §6): an answer is recognised by its frame id
    // (a repeat of an id is a repeat, not a second answer), E.RUNNER.CANCELLED dispatches the task again.
    const taskOf = new Map<string, number>(); // dispatch id → task
    const answerOf = new Map<string, string>(); // dispatch id → answer frame id
    const seenAnswerIds = new Map<string, string>(); // answer frame id → its content
    let repeatsThatDiffer = 0;
    const finals = new Map<number, Frame[]>();
    const cancelReasons = new Map<string, number>();
    let wireRepeats = 0;
    let secondAnswers = 0;
    let redispatches = 0;
    let nextTask = 0;
    let open = 0;
    const random = (() => {
      let s = 42;
      return () => {
        s = (s * 1103515245 + 12345) % 2 ** 31;
        return s / 2 ** 31;
      };
    })();
    const send = (t: number): void => {
      const id = randomUUID();
      taskOf.set(id, t);
      void scheduler.send(
        FrameType.EXEC_DISPATCH,
        task('samples.slow', { ms: Math.floor(random() * 30) }, { run_id: 'crash', task_id: `task-${t}`, node_id: `n-${t}` }),
        { id },
      );
    };
    const feed = (): void => {
      while (open < OUTSTANDING && nextTask < TASKS) {
        open++;
        send(nextTask++);
      }
    };
    scheduler.onFrame((frame, kind) => {
      if (kind !== 'delivered' || !isAnswer(frame) || frame.corr == null) return;
      const t = taskOf.get(frame.corr);
      if (t === undefined) return;
      const content = JSON.stringify([frame.type, frame.corr, frame.payload]);
      const earlier = seenAnswerIds.get(frame.id);
      if (earlier !== undefined) {
        // The same answer again (a re-send after a restart): recognised by its id, and it must be the same answer.
        wireRepeats++;
        if (earlier !== content) repeatsThatDiffer++;
        return;
      }
      seenAnswerIds.set(frame.id, content);
      if (answerOf.has(frame.corr)) secondAnswers++;
      answerOf.set(frame.corr, frame.id);
      const error = frame.type === FrameType.EXEC_ERROR ? (frame.payload as ExecErrorPayload) : undefined;
      if (error?.code === ErrorCode.RUNNER_CANCELLED) {
        const reason = String(error.context?.details?.reason ?? 'none');
        cancelReasons.set(reason, (cancelReasons.get(reason) ?? 0) + 1);
        redispatches++;
        send(t);
        return;
      }
      const list = finals.get(t) ?? [];
      list.push(frame);
      finals.set(t, list);
      open--;
      feed();
    });
    feed();

    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(150 + random() * 600);
      await worker.crash();
      const before = scheduler.accepts;
      worker = track(await startWorkerProcess(dir, scheduler.url, extra));
      await nextAccept(scheduler, before);
    }
    const deadline = Date.now() + 60_000;
    while (finals.size < TASKS && Date.now() < deadline) await sleep(50);
    await sleep(300); // let any stray second answer arrive before counting
    worker.child.kill('SIGTERM');
    expect((await worker.exited).code).toBe(0);

    const multiple = [...finals.values()].filter((l) => l.length > 1).length;
    const notSucceeded = [...finals.values()]
      .flat()
      .filter((f) => f.type !== FrameType.EXEC_RESULT || (f.payload as ExecResultPayload).status !== 'SUCCEEDED');
    const counts = {
      tasks: TASKS,
      kills: KILLS,
      with_final_outcome: finals.size,
      with_more_than_one_final: multiple,
      final_not_succeeded: notSucceeded.length,
      cancelled_by_reason: Object.fromEntries(cancelReasons),
      redispatches,
      dispatches_with_two_answer_ids: secondAnswers,
      answer_ids_repeated_on_the_wire: wireRepeats,
      repeats_with_other_content: repeatsThatDiffer,
      violations: scheduler.violations.length,
    };
    console.log('crash test counts', JSON.stringify(counts));
    expect(finals.size).toBe(TASKS);
    expect(multiple).toBe(0);
    expect(secondAnswers).toBe(0);
    expect(repeatsThatDiffer).toBe(0);
    expect(notSucceeded).toEqual([]);
    expect(cancelReasons.get('worker_restart') ?? 0).toBeGreaterThan(0);
    expect(scheduler.violations).toEqual([]);
  }, 150_000);

  it('delivers a result finished while the scheduler was unreachable, after a kill -9 and a restart', async () => {
    const { scheduler, install } = await schedulerWithSamples();
    const dir = await workerFolder();
    let worker = track(await startWorkerProcess(dir, scheduler.url));
    await nextAccept(scheduler, 0);
    await install();
    const { id, done } = scheduler.dispatch(task('samples.slow', { ms: 800 }), { timeoutMs: 30_000 });
    while (scheduler.state.unacked > 0 || scheduler.state.queued > 0) await sleep(10); // the worker acked the dispatch
    // The link goes down, and no session can be had while the task finishes.
    scheduler.suppressAccept = true;
    scheduler.kill();
    await sleep(1500);
    expect(scheduler.received.some((f) => isAnswer(f) && f.corr === id)).toBe(false);
    await worker.crash();
    scheduler.suppressAccept = false;
    worker = track(await startWorkerProcess(dir, scheduler.url));
    const answer = await done;
    expect(answer.type).toBe(FrameType.EXEC_RESULT);
    expect((answer.payload as ExecResultPayload).status).toBe('SUCCEEDED');
    expect(scheduler.violations).toEqual([]);
  }, 30_000);
});

describe('durable outbox: a full or failing disk', () => {
  it('refuses new dispatches as overloaded, still delivers answers it holds, stays up and recovers', async () => {
    const dir = await workerFolder();
    const store = createFaultInjectingStore(await createJournalStore({ dir: join(dir, 'outbox') }));
    const h = await startHarness({ worker: { outboxStore: store } });
    cleanups.push(() => h.cleanup());
    await h.scheduler.waitForSession(undefined, 10_000);
    await installSample(h, 'samples');

    const running = h.scheduler.dispatch(task('samples.slow', { ms: 400 }));
    await sleep(150);
    store.fail('ENOSPC');
    const refused = await h.scheduler.dispatch(task('samples.slow', { ms: 10 })).done;
    expect(refused.type).toBe(FrameType.EXEC_ERROR);
    expect(refused.payload).toMatchObject({ code: ErrorCode.RUNNER_CANCELLED, context: { details: { reason: 'overloaded' } } });
    // The task that was already running is answered from memory.
    expect(((await running.done).payload as ExecResultPayload).status).toBe('SUCCEEDED');
    expect(h.worker.state).toBe('READY');
    expect(h.worker.outbox?.stats.writeFailures).toBeGreaterThan(0);
    expect(h.worker.outbox?.stats.refusedDispatches).toBe(1);

    store.fail(undefined);
    const after = await h.scheduler.dispatch(task('samples.slow', { ms: 10 })).done;
    expect((after.payload as ExecResultPayload).status).toBe('SUCCEEDED');
    await sleep(100);
    expect(h.worker.outbox?.stats.depth).toBe(0);
    expect(h.scheduler.violations).toEqual([]);
  }, 30_000);
});
