// What a user of the existing AstraFlow scheduler sees in a run (docs/protocol.md §6): refusals of tasks
// that did not run move to another worker instead of failing the run; uninstalls and restarts are
// handled the way that scheduler expects.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FrameType, type ExecDispatchPayload, type Frame } from '@astraflow/protocol';
import { createRunCoordinator, startReferenceScheduler, type RunReport } from '@astraflow/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { installSample, sleep, startHarness, task, TOKEN, type Harness } from './harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

async function ready(options: Parameters<typeof startHarness>[0] = {}, packages = ['samples']): Promise<Harness> {
  // The sample packages are catalog-compatible: the scheduler's catalog loads their manifests.
  const h = await startHarness({ ...options, scheduler: { catalog: true, ...options.scheduler } });
  harnesses.push(h);
  await h.scheduler.waitForSession(undefined, 10_000);
  for (const name of packages) expect((await installSample(h, name)).payload).toMatchObject({ name, status: 'installed' });
  return h;
}

/** Reasons of the refusals a run met, in order. */
function refusals(report: RunReport): string[] {
  return report.tasks.flatMap((t) =>
    t.attempts
      .map((a) => a.answer)
      .filter((f): f is Frame => f?.type === FrameType.EXEC_ERROR)
      .map((f) => {
        const p = f.payload as { code: string; context?: { details?: { reason?: string } } };
        return `${p.code}/${p.context?.details?.reason ?? '?'}`;
      }),
  );
}

function expectRunCompleted(report: RunReport, a: Harness, b: Harness): void {
  expect(report.tasks.filter((t) => t.failed)).toEqual([]);
  expect(report.failed).toBe(false);
  expect(report.tasks.every((t) => t.status === 'SUCCEEDED')).toBe(true);
  expect(a.scheduler.violations).toEqual([]);
  expect(b.scheduler.violations).toEqual([]);
}

describe('a fleet of two workers behind the scheduler', () => {
  it('drain: every task the draining worker refuses is re-dispatched to the other one, and the run succeeds', async () => {
    const [a, b] = [await ready(), await ready()];
    const runs = createRunCoordinator({ schedulers: [a.scheduler, b.scheduler] });
    const tasks: ExecDispatchPayload[] = Array.from({ length: 8 }, (_, i) => task('samples.slow', { ms: 30 + i }));
    const firstHalf = runs.run(tasks.slice(0, 4));
    await sleep(10);
    a.worker.drain();
    // The scheduler keeps dispatching, half of it to the draining worker first.
    const secondHalf = runs.run(tasks.slice(4));
    const report: RunReport = await Promise.all([firstHalf, secondHalf]).then(([x, y]) => ({
      failed: x.failed || y.failed,
      tasks: [...x.tasks, ...y.tasks],
      redispatches: x.redispatches + y.redispatches,
    }));
    expectRunCompleted(report, a, b);
    expect(report.redispatches).toBeGreaterThanOrEqual(2);
    expect(refusals(report).length).toBe(report.redispatches);
    expect(new Set(refusals(report))).toEqual(new Set(['E.RUNNER.CANCELLED/draining']));
    // Every retried task ran on the other worker.
    for (const t of report.tasks.filter((x) => x.attempts.length > 1)) expect(t.attempts.at(-1)?.scheduler).toBe(1);
  });

  it('overflow: a full drop_new queue refuses with reason overflow, the tasks run elsewhere, the run succeeds', async () => {
    const a = await ready({
      settings: { handler_dispatch_max_inflight: 1, handler_dispatch_queue_max: 1, handler_dispatch_queue_overflow: 'drop_new' },
    });
    const b = await ready();
    const runs = createRunCoordinator({ schedulers: [a.scheduler, b.scheduler] });
    const tasks = Array.from({ length: 8 }, (_, i) => task('samples.slow', { ms: 80 + i }));
    const reports = await Promise.all(tasks.map((t) => runs.runTask(t, { first: 0 })));
    const report: RunReport = { failed: reports.some((r) => r.failed), tasks: reports, redispatches: 0 };
    expectRunCompleted(report, a, b);
    expect(refusals(report).length).toBeGreaterThanOrEqual(1);
    expect(new Set(refusals(report))).toEqual(new Set(['E.RUNNER.CANCELLED/overflow']));
    expect(a.worker.router.stats.dropped.queue_overflow).toBe(refusals(report).length);
  });

  it('cooldown: a handler cooling down refuses with retry_after_ms, the other worker runs the tasks', async () => {
    const a = await ready({ settings: { handler_dispatch_max_failures: 1, handler_dispatch_failure_cooldown_seconds: 60 } });
    const b = await ready();
    // One failure outside the run starts the cooldown of samples.status on worker A.
    const failing = await a.scheduler.dispatch(task('samples.status', { status: 'error' })).done;
    expect(failing.payload).toMatchObject({ status: 'FAILED' });
    const runs = createRunCoordinator({ schedulers: [a.scheduler, b.scheduler] });
    const reports = await Promise.all(
      Array.from({ length: 4 }, () => runs.runTask(task('samples.status', { status: 'ok' }), { first: 0 })),
    );
    const report: RunReport = { failed: reports.some((r) => r.failed), tasks: reports, redispatches: 0 };
    expectRunCompleted(report, a, b);
    expect(refusals(report)).toEqual(Array.from({ length: 4 }, () => 'E.RUNNER.CANCELLED/cooldown'));
    const first = reports[0]!.attempts[0]!.answer!.payload as { context: { details: { retry_after_ms: number } } };
    expect(first.context.details.retry_after_ms).toBeGreaterThan(50_000);
  });

  it('a duplicate under a held concurrency_key is ignored, a failing node fails the run', async () => {
    const a = await ready({ settings: { handler_dispatch_max_inflight: 4 } });
    const runs = createRunCoordinator({ schedulers: [a.scheduler] });
    const held = runs.runTask(task('samples.slow', { ms: 300 }, { concurrency_key: 'k-1' }));
    await sleep(50);
    const duplicate = await runs.runTask(task('samples.slow', { ms: 1 }, { concurrency_key: 'k-1' }));
    expect(duplicate).toMatchObject({ status: 'IGNORED', failed: false });
    expect((await held).status).toBe('SUCCEEDED');
    const failing = await runs.run([task('samples.fail')]);
    expect(failing.failed).toBe(true);
    expect(failing.tasks[0]).toMatchObject({ status: 'FAILED', failureCode: 'E.RUNNER.FAILURE' });
  });
});

describe('uninstall as the existing scheduler expects it', () => {
  it('is reported by the re-register alone; biz.pkg.event uninstalled only with package_uninstall_event', async () => {
    const plain = await ready({}, ['echo', 'samples']);
    const before = plain.scheduler.registers.length;
    await plain.scheduler.send(FrameType.PKG_UNINSTALL, { name: 'echo', version: '1.0.0' });
    const register = await plain.scheduler.waitFor(
      (f) => f.type === FrameType.REGISTER && plain.scheduler.registers.indexOf(f) >= before,
      10_000,
    );
    const listed = (register.payload as { packages: Array<{ name: string; version: string }> }).packages;
    expect(listed.map((p) => `${p.name}@${p.version}`)).toEqual(['samples@1.0.0']);
    await sleep(200);
    const statuses = plain.scheduler.delivered
      .filter((f) => f.type === FrameType.PKG_EVENT)
      .map((f) => (f.payload as { status: string }).status);
    expect(statuses).toEqual(['installed', 'installed']);
    expect(plain.scheduler.violations).toEqual([]);

    const opted = await ready({ settings: { package_uninstall_event: true }, scheduler: { acceptUninstallEvents: true } }, [
      'echo',
    ]);
    const event = await opted.scheduler.uninstallPackage({ name: 'echo', version: '1.0.0' });
    expect(event.payload).toMatchObject({ name: 'echo', version: '1.0.0', status: 'uninstalled' });
    expect(opted.scheduler.violations).toEqual([]);
  });

  it('answers a package command refused while draining with a failed event naming the reason', async () => {
    const h = await ready({}, []);
    h.worker.drain();
    const event = await installSample(h, 'echo');
    expect(event.payload).toMatchObject({
      name: 'echo',
      status: 'failed',
      details: { code: 'E.RUNNER.CANCELLED', reason: 'draining' },
    });
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('worker-local resources', () => {
  it('a registered resource is leased for a later dispatch naming it; a ref pinned elsewhere or missing never runs', async () => {
    const h = await ready({
      settings: { worker_name: 'worker-a', heartbeat_interval_seconds: 0.1, heartbeat_jitter_seconds: 0 },
    });
    const put = await h.scheduler.dispatch(task('samples.resource_put', { id: 'model-1', value: 42 })).done;
    expect(put.payload).toMatchObject({ status: 'SUCCEEDED', result: { registered: 'model-1' } });
    const ref = (id: string, worker = 'worker-a') => ({ resource_id: id, worker_name: worker, type: 'sample' });

    const used = await h.scheduler.dispatch(task('samples.resource_use', {}, { resource_refs: [ref('model-1')] })).done;
    expect(used.payload).toMatchObject({ status: 'SUCCEEDED', result: { leased: [{ id: 'model-1', value: 42, leases: 1 }] } });

    for (const refs of [[ref('model-1', 'worker-b')], [ref('model-1'), ref('model-2')]]) {
      const d = task('samples.resource_use', {}, { resource_refs: refs });
      const answer = await h.scheduler.dispatch(d).done;
      expect(answer.type).toBe(FrameType.EXEC_ERROR);
      expect(answer.payload).toMatchObject({ code: 'E.RESOURCE.MISSING' });
      // Never ran: no duration metric for it, no data folder.
      expect(existsSync(join(h.worker.settings.data_dir, d.run_id, d.task_id))).toBe(false);
    }
    // Heartbeats count what is held and in use.
    const counts = (f: Frame): string => {
      const m = (f.payload as { metrics: { resources_held?: number; resources_in_use?: number } }).metrics;
      return `${m.resources_held}/${m.resources_in_use}`;
    };
    const since = h.scheduler.heartbeats.length;
    await h.scheduler.waitFor((f) => f.type === FrameType.HEARTBEAT && h.scheduler.heartbeats.indexOf(f) >= since, 3000);
    expect(counts(h.scheduler.heartbeats.at(-1)!)).toBe('1/0');
    // Host CPU as a share of all cores, and the measured ack round trip of the reliable stream.
    const metrics = (h.scheduler.heartbeats.at(-1)!.payload as { metrics: { cpu_pct: number; latency_ms?: number } }).metrics;
    expect(metrics.cpu_pct).toBeGreaterThanOrEqual(0);
    expect(metrics.cpu_pct).toBeLessThanOrEqual(100);
    expect(Number.isInteger(metrics.latency_ms)).toBe(true);
    expect(metrics.latency_ms).toBeLessThan(1000);
    expect(h.scheduler.violations).toEqual([]);
  });
});

describe('scheduler restart', () => {
  it('is READY again within 1 s of the restarted scheduler listening: no backoff after the refused resume', async () => {
    // A reconnect backoff of 0.4 s: a wait after the refused resume would show as a gap of that size.
    const h = await ready(
      { settings: { reconnect_base_delay_seconds: 0.4, reconnect_max_delay_seconds: 0.4, reconnect_jitter: 0 } },
      [],
    );
    const port = h.scheduler.port;
    const handshakesBefore = h.scheduler.handshakes.length;
    await h.scheduler.close();
    // Let the worker's reconnect attempts fail a few times against the closed port.
    await sleep(400);
    const restarted = await startReferenceScheduler({ token: TOKEN, port });
    const arrivals: Array<[string, number]> = [];
    restarted.onFrame((f) => arrivals.push([f.type, performance.now()]));
    try {
      const listening = Date.now();
      const accept = await restarted.waitForSession({ resumed: false }, 5000);
      await h.worker.session.whenReady(5000);
      expect(Date.now() - listening).toBeLessThan(1000);
      expect(accept.payload.resumed).toBe(false);
      // It tried to resume first, was refused, and handshook afresh.
      expect(restarted.resumes.length).toBeGreaterThanOrEqual(1);
      expect(restarted.handshakes.length).toBeGreaterThanOrEqual(1);
      expect(handshakesBefore).toBe(1);
      const resumedAt = arrivals.find(([type]) => type === FrameType.RESUME)?.[1] ?? NaN;
      const handshakeAt = arrivals.find(([type]) => type === FrameType.HANDSHAKE)?.[1] ?? NaN;
      expect(handshakeAt - resumedAt).toBeLessThan(200);
      expect(restarted.violations).toEqual([]);
    } finally {
      await restarted.close();
    }
  });
});
