import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FrameType, type ExecDispatchPayload, type Frame } from '@astraflow/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Faults } from '@astraflow/testkit';
import { installSample, sleep, startHarness, task, type Harness } from './harness.js';

const resultOf = (f: Frame) => f.payload as { status: string; result: Record<string, unknown>; duration_ms?: number };
const errorOf = (f: Frame) =>
  f.payload as { code: string; message: string; context?: { where?: string; details?: Record<string, unknown> } };

/** Largest number of [start, end] intervals that overlap at one instant. */
/** `count` samples.slow dispatches whose sleeps spread over 0..maxMs−1 ms. */
function slowTasks(count: number, stride: number, maxMs: number): ExecDispatchPayload[] {
  return Array.from({ length: count }, (_, i) => task('samples.slow', { ms: (i * stride) % maxMs }));
}

function maxOverlap(intervals: Array<[number, number]>): number {
  const events = intervals.flatMap(([s, e]) => [[s, 1] as const, [e, -1] as const]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of events) {
    now += delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

async function runLedger(h: Harness, d: ExecDispatchPayload): Promise<number> {
  try {
    const text = await readFile(join(h.worker.settings.data_dir, d.run_id, d.task_id, 'runs.log'), 'utf8');
    return text.trim().split('\n').length;
  } catch {
    return 0;
  }
}

/**
 * The fault tests' verdict: every dispatch answered with a result, exactly one answer frame per
 * dispatch reached the scheduler, and every task's run ledger shows a single run.
 */
async function expectEachAnsweredAndRunOnce(h: Harness, dispatches: ExecDispatchPayload[], answers: Frame[]): Promise<void> {
  expect(answers).toHaveLength(dispatches.length);
  expect(answers.every((a) => a.type === FrameType.EXEC_RESULT && resultOf(a).status === 'SUCCEEDED')).toBe(true);
  // Let retransmitted copies settle before counting what was delivered.
  await sleep(300);
  const answerFrames = h.scheduler.delivered.filter((f) => f.type === FrameType.EXEC_RESULT || f.type === FrameType.EXEC_ERROR);
  // One answer (one frame id) per dispatch. Across a session reset the same frame may legitimately
  // arrive again under its old id, which the scheduler de-duplicates; a second answer would have a new id.
  const idsByCorr = new Map<string, Set<string>>();
  for (const f of answerFrames) idsByCorr.set(f.corr ?? '', (idsByCorr.get(f.corr ?? '') ?? new Set()).add(f.id));
  expect(idsByCorr.size).toBe(dispatches.length);
  expect([...idsByCorr.values()].every((ids) => ids.size === 1)).toBe(true);
  const ledgers = await Promise.all(dispatches.map((d) => runLedger(h, d)));
  expect(ledgers.every((n) => n === 1)).toBe(true);
  expect(h.scheduler.violations).toEqual([]);
}

/** Harnesses of the running test, torn down after it (see the file-level afterEach). */
const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

/** Sends every dispatch now; resolves with their answers, in order. */
function dispatchAll(h: Harness, dispatches: readonly ExecDispatchPayload[]): Promise<Frame[]> {
  return Promise.all(dispatches.map((d) => h.scheduler.dispatch(d).done));
}

type HarnessOptions = NonNullable<Parameters<typeof startHarness>[0]>;

/** A worker READY against a fresh scheduler with the sample packages installed, cleaned up after the test. */
async function ready(options: HarnessOptions = {}): Promise<Harness> {
  const h = await readyShared(options);
  harnesses.push(h);
  return h;
}

/**
 * As {@link ready}, with a scheduler that retransmits soon (so the `faults` it injects are recovered from
 * within the test's time) and deterministic fault draws from `seed`.
 */
async function readyWithFaults(seed: number, faults: Partial<Faults>, settings?: HarnessOptions['settings']): Promise<Harness> {
  const h = await ready({ scheduler: { retransmitBaseMs: 50, retransmitMaxMs: 300, seed }, ...(settings && { settings }) });
  Object.assign(h.scheduler.faults, faults);
  return h;
}

/** As {@link ready}, for a harness shared by a whole describe block, which cleans it up itself. */
async function readyShared(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  await h.scheduler.waitForSession(undefined, 10_000);
  for (const name of ['echo', 'samples']) {
    const event = await installSample(h, name);
    expect(event.payload).toMatchObject({ name, status: 'installed' });
  }
  return h;
}

describe('dispatch: results and errors', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await readyShared();
  });
  afterAll(async () => {
    expect(h.scheduler.violations).toEqual([]);
    await h.cleanup();
  });

  it('echo returns SUCCEEDED with its outputs, corr and duration', async () => {
    const { id, done } = h.scheduler.dispatch(task('echo.echo', { message: 'hello' }), { seq: 42 });
    const answer = await done;
    expect(answer.type).toBe(FrameType.EXEC_RESULT);
    expect(answer.corr).toBe(id);
    expect(answer.seq).toBe(42);
    expect(resultOf(answer)).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'hello' } });
    expect(typeof resultOf(answer).duration_ms).toBe('number');
  });

  it('an unknown node type, a throwing handler and a non-serialisable output give E.RUNNER.FAILURE', async () => {
    for (const d of [task('echo.nope'), task('echo.fail'), task('samples.fail'), task('samples.bad_output')]) {
      const answer = await h.scheduler.dispatch(d).done;
      expect(answer.type, d.node_type).toBe(FrameType.EXEC_ERROR);
      expect(errorOf(answer).code).toBe('E.RUNNER.FAILURE');
      expect(errorOf(answer).context?.details).toMatchObject({ run_id: d.run_id, task_id: d.task_id, node_id: d.node_id });
      expect(errorOf(answer).context?.where).toMatch(/\S/);
    }
  });

  it('normalises every status word', async () => {
    const cases: Array<[string | undefined, string]> = [
      ['success', 'SUCCEEDED'],
      ['SUCCEEDED', 'SUCCEEDED'],
      ['ok', 'SUCCEEDED'],
      ['done', 'SUCCEEDED'],
      ['allowed', 'SUCCEEDED'],
      ['blocked', 'SUCCEEDED'],
      ['error', 'FAILED'],
      ['fail', 'FAILED'],
      ['failed', 'FAILED'],
      ['cancel', 'CANCELLED'],
      ['cancelled', 'CANCELLED'],
      ['skip', 'SKIPPED'],
      ['skipped', 'SKIPPED'],
      [undefined, 'SUCCEEDED'],
      ['banana', 'FAILED'],
    ];
    const answers = await Promise.all(
      cases.map(([word]) => h.scheduler.dispatch(task('samples.status', word === undefined ? {} : { status: word })).done),
    );
    answers.forEach((answer, i) => {
      expect(resultOf(answer).status, String(cases[i]![0])).toBe(cases[i]![1]);
    });
  });

  it('refuses a second dispatch with a running concurrency_key without calling its handler', async () => {
    const first = task('samples.slow', { ms: 400 }, { concurrency_key: 'k-1' });
    const second = task('samples.slow', { ms: 10 }, { concurrency_key: 'k-1' });
    const a = h.scheduler.dispatch(first);
    await sleep(50);
    const b = h.scheduler.dispatch(second);
    const [answerA, answerB] = await Promise.all([a.done, b.done]);
    expect(answerB.type).toBe(FrameType.EXEC_ERROR);
    expect(errorOf(answerB).code).toBe('E.CMD.CONCURRENCY_VIOLATION');
    expect(resultOf(answerA).status).toBe('SUCCEEDED');
    expect(await runLedger(h, second)).toBe(0);
    // The key is free again once the first task answered.
    const third = await h.scheduler.dispatch(task('samples.slow', { ms: 1 }, { concurrency_key: 'k-1' })).done;
    expect(resultOf(third).status).toBe('SUCCEEDED');
  });

  it('never runs a dispatch twice when the scheduler sends the same id again', async () => {
    const d = task('samples.slow', { ms: 200 });
    const first = h.scheduler.dispatch(d, { id: 'dup-dispatch-1' });
    await sleep(30);
    h.scheduler.dispatch(d, { id: 'dup-dispatch-1' });
    const answer = await first.done;
    expect(resultOf(answer).result).toMatchObject({ runs: 1 });
    // Sent again after it finished: the earlier answer is repeated, the handler is not run.
    h.scheduler.dispatch(d, { id: 'dup-dispatch-1' });
    await sleep(300);
    expect(await runLedger(h, d)).toBe(1);
    const answers = h.scheduler.delivered.filter((f) => f.corr === 'dup-dispatch-1');
    expect(answers.length).toBe(2);
    // The repeat is the same answer under the same frame id, so the scheduler can tell.
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    for (const a of answers) expect(resultOf(a).result).toMatchObject({ runs: 1 });
  });

  it('times a handler out with E.TIMEOUT (constraints.timeout_ms)', async () => {
    const started = Date.now();
    const answer = await h.scheduler.dispatch(task('samples.slow', { ms: 10_000 }, { constraints: { timeout_ms: 150 } })).done;
    expect(errorOf(answer).code).toBe('E.TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('streams feedback before the result, in order', async () => {
    const d = task('samples.feedback', { count: 5 });
    const answer = await h.scheduler.dispatch(d).done;
    expect(resultOf(answer).status).toBe('SUCCEEDED');
    const frames = h.scheduler.delivered.filter((f) => f.type === FrameType.EXEC_FEEDBACK && f.corr === d.task_id);
    const progress = frames.map((f) => (f.payload as { progress?: number }).progress).filter((p) => p !== undefined);
    expect(progress).toEqual([...progress].sort((a, b) => a! - b!));
    expect(progress.at(-1)).toBe(1);
    const texts = frames.flatMap((f) => ((f.payload as { chunks?: Array<{ text?: string }> }).chunks ?? []).map((c) => c.text));
    expect(texts).toEqual(['line 1\n', 'line 2\n', 'line 3\n', 'line 4\n', 'line 5\n']);
    const lastFeedback = h.scheduler.delivered.lastIndexOf(frames.at(-1)!);
    expect(lastFeedback).toBeLessThan(h.scheduler.delivered.indexOf(answer));
  });

  it('resolves ctx.next with the matching biz.exec.next.response', async () => {
    const off = h.scheduler.onFrame((frame) => {
      if (frame.type !== FrameType.EXEC_NEXT_REQUEST) return;
      const req = frame.payload as { requestId: string; runId: string; nodeId: string; middlewareId: string };
      void h.scheduler.send(
        FrameType.EXEC_NEXT_RESPONSE,
        { requestId: req.requestId, runId: req.runId, nodeId: req.nodeId, middlewareId: req.middlewareId, result: { y: 2 } },
        { corr: req.requestId },
      );
    });
    const answer = await h.scheduler.dispatch(task('samples.next')).done;
    off();
    expect(resultOf(answer)).toMatchObject({ status: 'SUCCEEDED', result: { next: { y: 2 } } });
  });
});

describe('dispatch: concurrency limits', () => {
  async function overlapOf(settings: Record<string, unknown>, count: number, nodeMs = 120): Promise<number> {
    const h = await ready({ settings });
    const answers = await Promise.all(
      Array.from({ length: count }, () => h.scheduler.dispatch(task('samples.slow', { ms: nodeMs })).done),
    );
    expect(answers.every((a) => a.type === FrameType.EXEC_RESULT && resultOf(a).status === 'SUCCEEDED')).toBe(true);
    return maxOverlap(answers.map((a) => [resultOf(a).result.started_at as number, resultOf(a).result.ended_at as number]));
  }

  it('runs at most handler_dispatch_max_inflight = 4 of 20 slow tasks at once, and answers all 20', async () => {
    expect(await overlapOf({ handler_dispatch_max_inflight: 4 }, 20)).toBe(4);
  });

  it('runs tasks one at a time with handler_dispatch_max_inflight = 0', async () => {
    expect(await overlapOf({ handler_dispatch_max_inflight: 0 }, 6, 60)).toBe(1);
  });

  it('caps a node type with concurrency_per_node_limits', async () => {
    expect(await overlapOf({ handler_dispatch_max_inflight: 8, concurrency_per_node_limits: { 'samples.slow': 2 } }, 8, 80)).toBe(
      2,
    );
  });

  it('answers a dispatch past handler_dispatch_timeout_seconds with E.TIMEOUT', async () => {
    const h = await ready({ settings: { handler_dispatch_timeout_seconds: 0.2 } });
    const answer = await h.scheduler.dispatch(task('samples.slow', { ms: 10_000 })).done;
    expect(errorOf(answer).code).toBe('E.TIMEOUT');
  });

  it('cools a handler down after consecutive failures (handler_dispatch_max_failures)', async () => {
    const h = await ready({
      settings: { handler_dispatch_max_failures: 2, handler_dispatch_failure_cooldown_seconds: 60 },
    });
    for (let i = 0; i < 2; i++) {
      expect(errorOf(await h.scheduler.dispatch(task('samples.fail')).done).code).toBe('E.RUNNER.FAILURE');
    }
    const cooling = errorOf(await h.scheduler.dispatch(task('samples.fail')).done);
    // Refused before it ran: the code the scheduler retries, with why and when.
    expect(cooling.code).toBe('E.RUNNER.CANCELLED');
    expect(cooling.context?.details).toMatchObject({ reason: 'cooldown' });
    expect(cooling.context?.details?.retry_after_ms).toBeGreaterThan(50_000);
    // Other handlers are unaffected.
    expect(resultOf(await h.scheduler.dispatch(task('echo.echo', { message: 'x' })).done).status).toBe('SUCCEEDED');
  });

  it('keeps heartbeats on cadence while a CPU-bound sync handler runs (auto → thread)', async () => {
    const h = await ready({ settings: { heartbeat_interval_seconds: 0.1, heartbeat_jitter_seconds: 0 } });
    // Warm the thread pool: spawning a thread is not what this test measures.
    await h.scheduler.dispatch(task('samples.cpu', { ms: 1 })).done;
    const d = task('samples.cpu', { ms: 1500 });
    const started = Date.now();
    const answer = await h.scheduler.dispatch(d).done;
    const ended = Date.now();
    expect(resultOf(answer)).toMatchObject({ status: 'SUCCEEDED', result: { burned_ms: 1500 } });
    expect(resultOf(answer).result).toBeDefined();
    const beats = h.scheduler.heartbeats.map((f) => Date.parse(f.ts)).filter((t) => t >= started - 200 && t <= ended);
    expect(beats.length).toBeGreaterThanOrEqual(10);
    const gaps = beats.slice(1).map((t, i) => t - beats[i]!);
    // 100 ms cadence; a blocked event loop would show a gap of ~1500 ms. The margin absorbs a loaded
    // 2-core machine (the handler's thread takes one core) without hiding a block.
    expect(Math.max(...gaps)).toBeLessThan(100 + 400);
  });
});

describe('dispatch: overflow policies', () => {
  it('answers every dispatch a full queue drops with an error instead of losing it', async () => {
    const h = await ready({
      settings: {
        handler_dispatch_max_inflight: 1,
        handler_dispatch_queue_max: 2,
        handler_dispatch_queue_overflow: 'drop_oldest',
      },
    });
    const answers = await dispatchAll(
      h,
      Array.from({ length: 10 }, () => task('samples.slow', { ms: 100 })),
    );
    const codes = answers.map((a) =>
      a.type === FrameType.EXEC_RESULT ? resultOf(a).status : `${errorOf(a).code}/${String(errorOf(a).context?.details?.reason)}`,
    );
    const refused = codes.filter((c) => c === 'E.RUNNER.CANCELLED/overflow').length;
    expect(codes.filter((c) => c === 'SUCCEEDED').length).toBeGreaterThanOrEqual(3);
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => c === 'SUCCEEDED' || c === 'E.RUNNER.CANCELLED/overflow')).toBe(true);
    expect(h.worker.router.stats.dropped.queue_overflow).toBe(refused);
  });
});

/** Two handler slots and queues of two that block when full: the settings that make backpressure bite at once. */
const TINY_BLOCKING_QUEUES = {
  handler_dispatch_max_inflight: 2,
  session_app_queue_max: 2,
  session_app_queue_overflow: 'block',
  handler_dispatch_queue_max: 2,
  handler_dispatch_queue_overflow: 'block',
} as const;

describe('dispatch: backpressure', () => {
  it('makes progress with tiny blocking queues and a tiny scheduler window (acks never wait behind dispatches)', async () => {
    const h = await ready({
      scheduler: { windowSize: 2 },
      settings: {
        ...TINY_BLOCKING_QUEUES,
        transport_recv_queue_max: 0,
      },
    });
    const answers = await dispatchAll(h, slowTasks(200, 1, 3));
    expect(answers.every((a) => a.type === FrameType.EXEC_RESULT && resultOf(a).status === 'SUCCEEDED')).toBe(true);
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('dispatch: middleware next under backpressure', () => {
  it('settles ctx.next even when blocking queues are full of new dispatches', async () => {
    const h = await ready({ settings: TINY_BLOCKING_QUEUES });
    const off = h.scheduler.onFrame((frame) => {
      if (frame.type !== FrameType.EXEC_NEXT_REQUEST) return;
      const req = frame.payload as { requestId: string; runId: string; nodeId: string; middlewareId: string };
      // Answer late, after more dispatches have filled the worker's queues.
      setTimeout(() => {
        void h.scheduler.send(
          FrameType.EXEC_NEXT_RESPONSE,
          {
            requestId: req.requestId,
            runId: req.runId,
            nodeId: req.nodeId,
            middlewareId: req.middlewareId,
            result: { ok: true },
          },
          { corr: req.requestId },
        );
      }, 30);
    });
    const answers = await dispatchAll(
      h,
      Array.from({ length: 40 }, () => task('samples.next')),
    );
    off();
    expect(answers.every((a) => a.type === FrameType.EXEC_RESULT && resultOf(a).status === 'SUCCEEDED')).toBe(true);
    expect(answers.every((a) => (resultOf(a).result.next as { ok?: boolean }).ok === true)).toBe(true);
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('dispatch: shutdown and drain', () => {
  it('cancels a running task at stop with E.RUNNER.CANCELLED and refuses new work while draining', async () => {
    const h = await ready();
    const running = h.scheduler.dispatch(task('samples.slow', { ms: 10_000 }));
    await sleep(100);
    const stopping = h.worker.stop({ graceMs: 200, flushMs: 3000 });
    await sleep(20);
    const late = h.scheduler.dispatch(task('echo.echo', { message: 'late' }));
    const [a, b] = await Promise.all([running.done, late.done]);
    await stopping;
    expect(errorOf(a).code).toBe('E.RUNNER.CANCELLED');
    expect(errorOf(b).code).toBe('E.RUNNER.CANCELLED');
    expect(errorOf(b).context?.details).toMatchObject({ reason: 'draining' });
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('dispatch: link kills, reordering and delays mid-stream', () => {
  it('answers every dispatch exactly once and runs each task once across 10 kills', async () => {
    const h = await readyWithFaults(
      99,
      { reorderIn: 0.05, reorderOut: 0.05, delayOutMs: 2 },
      { handler_dispatch_max_inflight: 8 },
    );
    const dispatches = slowTasks(300, 31, 25);
    const answering = dispatchAll(h, dispatches);
    let kills = 0;
    const killer = (async () => {
      while (kills < 10) {
        await h.scheduler.waitForSession(undefined, 15_000);
        await sleep(60);
        if (h.scheduler.kill()) kills++;
      }
    })();
    const answers = await answering;
    await killer;
    await h.scheduler.waitForSession(undefined, 15_000);
    await expectEachAnsweredAndRunOnce(h, dispatches, answers);
    expect(h.scheduler.resumes.length).toBeGreaterThanOrEqual(10);
  });
});

describe('dispatch: session resets mid-stream', () => {
  it('loses no answer and runs no task twice when the scheduler resets the session twice', async () => {
    const h = await readyWithFaults(5, {});
    const dispatches = slowTasks(200, 17, 30);
    const answering = dispatchAll(h, dispatches);
    for (let r = 0; r < 2; r++) {
      await sleep(150);
      await h.scheduler.waitForSession(undefined, 15_000);
      h.scheduler.reset('E.SESSION.STALE_BINDING', 'scheduler failover', 20);
    }
    const answers = await answering;
    await expectEachAnsweredAndRunOnce(h, dispatches, answers);
    expect(h.scheduler.handshakes.length).toBe(3);
  });
});

describe('dispatch: 1 000 tasks under 5% frame drop and duplication', () => {
  it('answers every dispatch exactly once and runs each task once', async () => {
    const h = await readyWithFaults(
      1234,
      { dropIn: 0.05, dupIn: 0.05, dropOut: 0.05, dupOut: 0.05 },
      { handler_dispatch_max_inflight: 16 },
    );
    const dispatches = slowTasks(1000, 7919, 20);
    const answers = await dispatchAll(h, dispatches);
    await expectEachAnsweredAndRunOnce(h, dispatches, answers);
    expect(h.scheduler.retransmissions).toBeGreaterThan(0);
    expect(h.scheduler.violations).toEqual([]);
  });
});
