import { FrameType, type Frame } from '@astraflow/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { installSample, sleep, startHarness, task, type Harness, type HarnessOptions } from './harness.js';

// Scheduling inside the worker (issue 14): node-type limits without head-of-line blocking,
// timeouts that start with the handler, overrunning handlers that keep their slot, admission by load.

const resultOf = (f: Frame) => f.payload as { status: string; result: Record<string, unknown> };
const errorOf = (f: Frame) =>
  f.payload as { code: string; message: string; context?: { where?: string; details?: Record<string, unknown> } };

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

/** A READY worker with the sample packages installed, cleaned up after the test. */
async function ready(settings: Record<string, unknown>, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness({ ...options, settings });
  harnesses.push(h);
  await h.scheduler.waitForSession(undefined, 10_000);
  for (const name of ['echo', 'samples']) {
    const event = await installSample(h, name);
    expect(event.payload).toMatchObject({ name, status: 'installed' });
  }
  return h;
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('scheduling: per-node-type limits', () => {
  it('cap 2, A limited to 1, tasks A, A, B: B does not wait behind the second A', async () => {
    const h = await ready({ handler_dispatch_max_inflight: 2, concurrency_per_node_limits: { 'samples.slow': 1 } });
    const a1 = h.scheduler.dispatch(task('samples.slow', { ms: 1000 }));
    const a2 = h.scheduler.dispatch(task('samples.slow', { ms: 200 }));
    const sentB = performance.now();
    const b = h.scheduler.dispatch(task('samples.stubborn', { ms: 100 }));
    const answerB = await b.done;
    const tookB = performance.now() - sentB;
    expect(resultOf(answerB).status).toBe('SUCCEEDED');
    const [answerA1, answerA2] = await Promise.all([a1.done, a2.done]);
    // B finished while the first A still ran; before the fix it waited for a global slot held by the second A.
    expect(resultOf(answerB).result.ended_at as number).toBeLessThan(resultOf(answerA1).result.ended_at as number);
    expect(tookB).toBeLessThan(700);
    // Order within the node type is kept, and its limit holds.
    expect(resultOf(answerA2).result.started_at as number).toBeGreaterThanOrEqual(resultOf(answerA1).result.ended_at as number);
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('scheduling: timeouts that mean what they say', () => {
  it('four 1 s CPU tasks on 2 threads with a 1.5 s timeout all succeed: the pool queue does not eat the timeout', async () => {
    const h = await ready({
      thread_pool_max_threads: 2,
      handler_dispatch_timeout_seconds: 1.5,
      handler_dispatch_max_inflight: 4,
    });
    const answers = await Promise.all([1, 2, 3, 4].map(() => h.scheduler.dispatch(task('samples.cpu', { ms: 1000 })).done));
    for (const answer of answers) {
      expect(answer.type, JSON.stringify(answer.payload)).toBe(FrameType.EXEC_RESULT);
      expect(resultOf(answer)).toMatchObject({ status: 'SUCCEEDED', result: { burned_ms: 1000 } });
    }
  });

  it('with a queue-wait limit below the wait, the tasks that cannot get a thread are refused as overloaded', async () => {
    const h = await ready({
      thread_pool_min_threads: 2,
      thread_pool_max_threads: 2,
      handler_dispatch_timeout_seconds: 1.5,
      handler_dispatch_max_inflight: 4,
      handler_dispatch_max_queue_wait_seconds: 0.5,
    });
    // On a starved machine even starting the pool can take longer than 0.5 s: wait until a thread serves.
    for (let attempt = 0; ; attempt++) {
      const probe = await h.scheduler.dispatch(task('samples.cpu', { ms: 1 })).done;
      if (probe.type === FrameType.EXEC_RESULT) break;
      expect(errorOf(probe).context?.details?.reason).toBe('overloaded');
      expect(attempt).toBeLessThan(20);
    }
    const before = h.worker.dispatchStats.refusedOverloaded;
    const answers = await Promise.all([1, 2, 3, 4].map(() => h.scheduler.dispatch(task('samples.cpu', { ms: 1000 })).done));
    const succeeded = answers.filter((a) => a.type === FrameType.EXEC_RESULT && resultOf(a).status === 'SUCCEEDED');
    const refused = answers.filter((a) => a.type === FrameType.EXEC_ERROR);
    // Two threads busy for 1 s: the last two cannot start within 0.5 s. (On a starved machine a
    // thread may start late, which refuses one more task; it never turns into a timeout.)
    expect(succeeded.length).toBeGreaterThanOrEqual(1);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(succeeded.length + refused.length).toBe(4);
    for (const answer of refused) {
      expect(errorOf(answer).code).toBe('E.RUNNER.CANCELLED');
      expect(errorOf(answer).context?.details).toMatchObject({ reason: 'overloaded', retry_after_ms: expect.any(Number) });
    }
    expect(h.worker.dispatchStats.refusedOverloaded - before).toBe(refused.length);
  });

  it('an inline handler that ignores its signal is answered E.TIMEOUT, and with cap 1 nothing else starts until it stops', async () => {
    const h = await ready({ handler_dispatch_max_inflight: 1, handler_dispatch_timeout_seconds: 0.3 });
    const sent = Date.now();
    const first = h.scheduler.dispatch(task('samples.stubborn', { ms: 1200 }));
    const second = h.scheduler.dispatch(task('samples.stubborn', { ms: 10 }));
    const timedOut = await first.done;
    expect(errorOf(timedOut).code).toBe('E.TIMEOUT');
    expect(Date.now() - sent).toBeLessThan(1100);
    await until(() => h.worker.dispatchStats.overrunning === 1, 'the overrun to be counted');
    const next = await second.done;
    expect(resultOf(next).status).toBe('SUCCEEDED');
    // The stubborn handler slept 1200 ms from after `sent`: the second could only start once it had stopped.
    expect(resultOf(next).result.started_at as number).toBeGreaterThanOrEqual(sent + 1200);
    expect(h.worker.dispatchStats).toMatchObject({ overruns: 1, overrunning: 0 });
  });
});

describe('scheduling: admission by load', () => {
  it('an inline handler blocking the loop makes the worker unhealthy and refuse work as overloaded; it recovers by itself', async () => {
    const h = await ready({
      heartbeat_interval_seconds: 0.2,
      heartbeat_jitter_seconds: 0.02,
      load_sample_interval_seconds: 0.1,
      load_event_loop_delay_max_ms: 200,
      load_recover_pct: 70,
      http_enabled: true,
      http_port: 0,
    });
    const health = h.worker.healthUrl!;
    // Start-up (package install, thread pre-warm) may itself lag a busy machine: begin from a calm worker.
    const calmFrom = h.scheduler.heartbeats.length;
    await until(
      () =>
        h.scheduler.heartbeats.slice(calmFrom).filter((f) => (f.payload as { healthy: boolean }).healthy).length >= 2 &&
        !h.worker.load.overloaded,
      'two healthy heartbeats',
    );
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    const beats = h.scheduler.heartbeats.length;
    const hog = h.scheduler.dispatch(task('samples.hog', { bursts: 12, burst_ms: 300, gap_ms: 30 }));
    await until(
      () => h.scheduler.heartbeats.slice(beats).some((f) => (f.payload as { healthy: boolean }).healthy === false),
      'a heartbeat with healthy: false',
    );
    expect(h.worker.load.overloaded).toBe(true);
    const refusedAnswer = await h.scheduler.dispatch(task('echo.echo', { message: 'not now' })).done;
    expect(errorOf(refusedAnswer).code).toBe('E.RUNNER.CANCELLED');
    expect(errorOf(refusedAnswer).context?.details).toMatchObject({ reason: 'overloaded', retry_after_ms: expect.any(Number) });
    const readyz = await fetch(`${health}/readyz`);
    // The hog runs for ~4 s: the worker is still overloaded here.
    expect(readyz.status).toBe(503);
    expect(await readyz.json()).toEqual({ ready: false, reason: 'overloaded' });
    const hogAnswer = await hog.done;
    expect(hogAnswer.type, JSON.stringify(hogAnswer.payload)).toBe(FrameType.EXEC_RESULT);
    expect(resultOf(hogAnswer).status).toBe('SUCCEEDED');

    await until(() => !h.worker.load.overloaded, 'recovery');
    const recoveredAt = h.scheduler.heartbeats.length;
    await until(
      () => h.scheduler.heartbeats.slice(recoveredAt).some((f) => (f.payload as { healthy: boolean }).healthy === true),
      'a healthy heartbeat again',
    );
    expect((await fetch(`${health}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${health}/metrics`)).text();
    expect(metrics).toMatch(/^astraflow_worker_overloaded 0$/m);
    expect(metrics).toMatch(/^astraflow_worker_overloaded_refusals_total 1$/m);
    const after = await h.scheduler.dispatch(task('echo.echo', { message: 'now' })).done;
    expect(resultOf(after)).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'now' } });
    expect(h.scheduler.violations).toEqual([]);
  });
});
