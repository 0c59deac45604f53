#!/usr/bin/env node
// Worker benchmarks. Every figure is a ratio to a baseline measured in the
// same run on the same machine, so results compare across machines and CI
// noise cancels out; absolute numbers are printed for context only.
//
//   pnpm bench                       (from the repository root; builds first)
//   BENCH_TASKS=5000 pnpm bench      (bigger run)
//   BENCH_MEMORY_TASKS=0 pnpm bench  (skip the 100 000-task memory run)
//   BENCH_CPU_PROF=/tmp/prof pnpm bench  (also a CPU profile of the worker binary at C=64)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@astraflow/config';
import { sampleArchivesDir } from '@astraflow/examples';
import { FrameType, buildFrame, createNoopLogger, parseFrame } from '@astraflow/protocol';
import { startReferenceScheduler } from '@astraflow/testkit';
import { setup } from '@astraflow/worker';
import { WebSocket, WebSocketServer } from 'ws';
import { benchLikeForLike } from './like-for-like.mjs';
import { benchTask, installSampleEcho } from './bench-tasks.mjs';
import { printSummary } from './summary.mjs';

const TASKS = Number(process.env.BENCH_TASKS ?? 2000);
const rows = [];

function report(name, value, baseline, unit, note) {
  rows.push({ name, value, baseline, ratio: value / baseline, unit, note });
}

/** Frame validation cost: parseFrame (JSON + envelope + payload schema) vs JSON.parse alone. */
function benchParse() {
  const frame = JSON.stringify(
    buildFrame(
      FrameType.EXEC_DISPATCH,
      {
        run_id: 'r',
        task_id: 't',
        node_id: 'n',
        node_type: 'echo.echo',
        package_name: 'echo',
        package_version: '1.0.0',
        parameters: { message: 'x'.repeat(200) },
        constraints: {},
      },
      { sender: { role: 'scheduler', id: 's' }, tenant: 'default', sessionSeq: 1 },
    ),
  );
  const n = 50_000;
  const time = (fn) => {
    for (let i = 0; i < 2000; i++) fn();
    const t = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (n / (performance.now() - t)) * 1000;
  };
  const base = time(() => JSON.parse(frame));
  const ours = time(() => parseFrame(frame));
  report('parseFrame throughput', ours, base, 'frames/s', 'baseline: JSON.parse of the same text');
}

/** Round trips of a bare ws echo server: the floor any worker over WebSocket pays. */
async function baselineRoundTrips(count) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}`);
  await new Promise((resolve) => ws.once('open', resolve));
  const payload = JSON.stringify({ type: 'x', payload: { message: 'hello' } });
  let got = 0;
  const started = performance.now();
  await new Promise((resolve) => {
    const inflight = 16;
    ws.on('message', () => {
      got++;
      if (got === count) resolve();
      else if (got + inflight <= count) ws.send(payload);
    });
    for (let i = 0; i < Math.min(inflight, count); i++) ws.send(payload);
  });
  const rate = (count / (performance.now() - started)) * 1000;
  ws.close();
  await new Promise((resolve) => server.close(resolve));
  return rate;
}

/**
 * Full pipeline: dispatch → session → router → runner → result → ack, with 16 in flight.
 * `extra` settings vary the worker (e.g. the outbox); resolves with tasks/s and RSS growth.
 */
async function dispatchRun(extra = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'astra-bench-'));
  const scheduler = await startReferenceScheduler({ token: 'bench', seed: 1 });
  const files = await scheduler.serveFiles(sampleArchivesDir);
  const settings = loadSettings(
    {
      scheduler_ws_url: scheduler.url,
      auth_token: 'bench',
      packages_dir: join(dir, 'pkgs'),
      data_dir: join(dir, 'data'),
      handler_dispatch_max_inflight: 16,
      ...extra,
      ws_ping_interval_seconds: 0,
      log_level: 'error',
      handler_exec_mode_default: process.env.BENCH_EXEC_MODE ?? 'auto',
    },
    { cwd: dir, env: {}, defaultPaths: [] },
  );
  const worker = await setup({ settings, logger: createNoopLogger() });
  try {
    await scheduler.waitForSession(undefined, 10_000);
    await installSampleEcho(scheduler, files);
    const dispatch = (i) => benchTask({ taskId: `t${i}` });
    const runBatch = async (from, count) => {
      const pending = new Set();
      let next = from;
      const end = from + count;
      const started = performance.now();
      while (next < end || pending.size > 0) {
        while (next < end && pending.size < 16) {
          const p = scheduler.dispatch(dispatch(next++)).done.then(() => pending.delete(p));
          pending.add(p);
        }
        await Promise.race(pending);
      }
      return (count / (performance.now() - started)) * 1000;
    };
    await runBatch(0, 200); // warm-up
    const rss0 = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    const rate = await runBatch(1000, TASKS);
    const cpu = process.cpuUsage(cpu0);
    const rssGrowthMiB = (process.memoryUsage().rss - rss0) / 2 ** 20;
    return { rate, rssGrowthMiB, cpuUsPerTask: (cpu.user + cpu.system) / TASKS };
  } finally {
    await worker.stop({ graceMs: 1000, flushMs: 1000 });
    await scheduler.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Cost of the first thread task after start-up, with the package already
 * installed when the worker starts: its dispatch→result time minus the median
 * of the 20 that follow (sequential, echo.echo runs in a thread). Target: ≤ 50 ms
 * with the default pre-warmed pool; `thread_pool_min_threads: 0` shows the cold cost.
 */
async function benchFirstThreadTask(minThreads) {
  const dir = await mkdtemp(join(tmpdir(), 'astra-bench-'));
  const settingsFor = (url) =>
    loadSettings(
      {
        scheduler_ws_url: url,
        auth_token: 'bench',
        packages_dir: join(dir, 'pkgs'),
        data_dir: join(dir, 'data'),
        ws_ping_interval_seconds: 0,
        log_level: 'error',
        thread_pool_min_threads: minThreads,
      },
      { cwd: dir, env: {}, defaultPaths: [] },
    );
  try {
    // Install once, then start a fresh worker that finds the package on disk.
    const installer = await startReferenceScheduler({ token: 'bench', seed: 1 });
    const files = await installer.serveFiles(sampleArchivesDir);
    const first = await setup({ settings: settingsFor(installer.url), logger: createNoopLogger() });
    await installer.waitForSession(undefined, 10_000);
    await installSampleEcho(installer, files);
    await first.stop({ graceMs: 1000, flushMs: 1000 });
    await installer.close();

    const scheduler = await startReferenceScheduler({ token: 'bench', seed: 2 });
    const worker = await setup({ settings: settingsFor(scheduler.url), logger: createNoopLogger() });
    try {
      await scheduler.waitForSession(undefined, 10_000);
      // Start-up is over; the first task comes in a moment later, as it would from a real scheduler.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const times = [];
      for (let i = 0; i < 21; i++) {
        const started = performance.now();
        const answer = await scheduler.dispatch({
          run_id: 'bench-first',
          task_id: `f${i}`,
          node_id: 'n',
          node_type: 'echo.echo',
          package_name: 'echo',
          package_version: '1.0.0',
          parameters: { message: 'hello' },
          constraints: {},
        }).done;
        if (answer.type !== FrameType.EXEC_RESULT || answer.payload.metadata?.exec_mode !== 'thread') {
          throw new Error(`unexpected answer ${JSON.stringify(answer.payload)}`);
        }
        times.push(performance.now() - started);
      }
      const rest = times.slice(1).sort((a, b) => a - b);
      const median = rest[Math.floor(rest.length / 2)];
      rows.push({
        name: `first thread task after start-up, extra cost (thread_pool_min_threads: ${minThreads})`,
        value: times[0] - median,
        unit: 'ms',
        note: `first ${times[0].toFixed(1)} ms, median of the next 20 ${median.toFixed(1)} ms${minThreads > 0 ? '; target ≤ 50 ms' : '; cold pool, for comparison'}`,
      });
    } finally {
      await worker.stop({ graceMs: 1000, flushMs: 1000 });
      await scheduler.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchDispatch() {
  const { rate, rssGrowthMiB } = await dispatchRun();
  const base = await baselineRoundTrips(TASKS);
  report('dispatch→result throughput (echo, 16 in flight)', rate, base, 'tasks/s', 'baseline: bare ws echo round trips');
  rows.push({
    name: 'RSS growth over the dispatch run',
    value: rssGrowthMiB,
    unit: 'MiB',
    note: `${TASKS} tasks, scheduler in-process`,
  });
}

/** The durable outbox at its default durability (outbox_fsync batch) against the same run without it; target ≥ 0.9. */
async function benchOutbox() {
  // Alternated, best of three, so that a burst of load from elsewhere on the machine hits both sides alike.
  const runs = Number(process.env.BENCH_OUTBOX_RUNS ?? 3);
  const off = [];
  const on = [];
  for (let i = 0; i < runs; i++) {
    off.push(await dispatchRun({ outbox_enabled: false }));
    on.push(await dispatchRun({ outbox_enabled: true, outbox_fsync: 'batch' }));
  }
  const best = (list) => Math.max(...list.map((r) => r.rate));
  const median = (list) => list.map((r) => r.cpuUsPerTask).sort((a, b) => a - b)[Math.floor(list.length / 2)];
  report(
    'dispatch→result throughput with the durable outbox (outbox_fsync batch)',
    best(on),
    best(off),
    'tasks/s',
    `baseline: the same run with outbox_enabled false; target ratio ≥ 0.9; best of ${runs} alternated runs each`,
  );
  // CPU time is what the outbox costs even when the machine is too busy for throughput to mean much.
  report(
    'CPU time per task with the durable outbox (worker + in-process scheduler)',
    median(on),
    median(off),
    'µs/task',
    'baseline: the same run without the outbox; median of the runs above (lower is better)',
  );
}

const started = performance.now();
benchParse();
await benchDispatch();
await benchFirstThreadTask(1);
await benchFirstThreadTask(0);
await benchOutbox();
const likeForLike = await benchLikeForLike();

printSummary({ likeForLike, rows, seconds: (performance.now() - started) / 1000 });
