// Like for like: the real worker binary in its own process against a
// scheduler peer in the bench process, next to a same-run ceiling (a minimal
// responder speaking the same protocol over the same `ws`, also in its own
// process, driven by the same peer). Every figure of the worker is reported
// as a ratio to the ceiling measured minutes apart on the same machine.
//
// Settings: BENCH_TASKS (tasks per measured run, default 10 000),
// BENCH_MEMORY_TASKS (default 100 000; 0 skips the memory run),
// BENCH_CPU_PROF=<dir> (write a V8 CPU profile of the worker at C=64 there).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { settingFields } from '@astraflow/config';
import { benchTask } from './bench-tasks.mjs';
import { startCeilingProcess, startWorkerProcess } from './processes.mjs';

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const MEMORY_TASKS = Number(process.env.BENCH_MEMORY_TASKS ?? 100_000);
const WARM_UP = Math.min(2000, Math.ceil(TASKS / 5));
const LEVELS = [1, 16, 64];
const hasSetting = (name) => settingFields.some((field) => field.name === name);

let taskNo = 0;
const echoTask = (nodeType) => () => benchTask({ taskId: `t${++taskNo}`, nodeType, packageName: 'bench' });
const ECHO = echoTask('bench.echo');
const ECHO_SYNC = echoTask('bench.echo_sync');
const FEEDBACK = echoTask('bench.feedback');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** One measured run, with the child's RSS after it and its CPU time per task (µs). */
async function measure(proc, options) {
  const cpu0 = await proc.cpuTime();
  const result = await proc.peer.run(options);
  result.cpuUs = (((await proc.cpuTime()) - cpu0) * 1000) / options.count;
  result.rss = (await proc.memory()).rss;
  return result;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Runs every like-for-like scenario; resolves with summary rows:
 * `{ name, c, rate, p50, p99, rss, ceiling: {rate, p50, p99, rss}, targets: [{what, ok}] }`
 * and plain `{ name, value, unit, note, targets }` rows for start-up and memory.
 */
export async function benchLikeForLike() {
  const rows = [];
  const readyTimes = [];
  const peaks = [];
  const outboxKnown = hasSetting('outbox_enabled');
  const ceiling = await startCeilingProcess();
  // The default worker: whatever main's defaults are (with #13, the outbox on at outbox_fsync batch).
  const worker = await startWorkerProcess();
  readyTimes.push(worker.readyMs);
  const readyRss = worker.atReady.rss;
  try {
    // First thread task after start-up, before anything else ran: thread mode must be ready when needed.
    await sleep(500);
    const firstTimes = [];
    for (let i = 0; i < 21; i++) firstTimes.push((await worker.peer.run({ count: 1, concurrency: 1, payload: ECHO_SYNC })).p50);
    const restMedian = median(firstTimes.slice(1));
    rows.push({
      name: 'first thread task after start-up, extra cost (real binary)',
      value: firstTimes[0] - restMedian,
      unit: 'ms',
      note: `first ${firstTimes[0].toFixed(1)} ms, median of the next 20 ${restMedian.toFixed(1)} ms`,
      targets: [{ what: '≤ 50 ms', ok: firstTimes[0] - restMedian <= 50 }],
    });

    await ceiling.peer.run({ count: WARM_UP, concurrency: 16, payload: ECHO });
    await worker.peer.run({ count: WARM_UP, concurrency: 16, payload: ECHO });
    const inline = {};
    for (const c of LEVELS) {
      // Alternated per level, so a burst of load elsewhere on the machine hits both alike.
      const base = await measure(ceiling, { count: TASKS, concurrency: c, payload: ECHO });
      const ours = await measure(worker, { count: TASKS, concurrency: c, payload: ECHO });
      inline[c] = ours;
      const targets = [];
      if (c >= 16) targets.push({ what: 'tasks/s ≥ 0.70× ceiling', ok: ours.rate >= 0.7 * base.rate });
      if (c === 1) targets.push({ what: 'p50 ≤ 1.5× ceiling', ok: ours.p50 <= 1.5 * base.p50 });
      if (c === 64) targets.push({ what: 'p99 ≤ 10 ms', ok: ours.p99 <= 10 });
      rows.push({ name: 'echo, inline (async handler)', c, ...ours, ceiling: base, targets });
    }

    const thread = await measure(worker, { count: TASKS, concurrency: 16, payload: ECHO_SYNC });
    rows.push({
      name: 'echo, thread (sync handler)',
      c: 16,
      ...thread,
      ceiling: rows.find((r) => r.c === 16)?.ceiling,
      targets: [{ what: 'tasks/s ≥ 0.40× inline', ok: thread.rate >= 0.4 * inline[16].rate }],
      note: `${(thread.rate / inline[16].rate).toFixed(2)}× inline`,
    });

    const feedbackBefore = worker.peer.counts.feedback;
    const feedback = await measure(worker, { count: TASKS, concurrency: 16, payload: FEEDBACK });
    rows.push({
      name: 'echo + feedback stream (inline)',
      c: 16,
      ...feedback,
      ceiling: rows.find((r) => r.c === 16)?.ceiling,
      targets: [],
      note: `${((worker.peer.counts.feedback - feedbackBefore) / TASKS).toFixed(1)} feedback frames/task, ${(feedback.rate / inline[16].rate).toFixed(2)}× plain echo`,
    });
    peaks.push((await worker.memory()).peak);

    if (process.env.BENCH_CPU_PROF) {
      // The profile covers the whole life of one more worker; most of it is this C=64 run.
      const profiled = await startWorkerProcess({ cpuProfDir: process.env.BENCH_CPU_PROF });
      try {
        await profiled.peer.run({ count: TASKS * 2, concurrency: 64, payload: ECHO });
      } finally {
        await profiled.stop();
      }
    }
  } finally {
    await worker.stop();
  }

  if (outboxKnown) {
    // The outbox off, against the default (on, outbox_fsync batch) measured above at C=16.
    const off = await startWorkerProcess({ settings: { outbox_enabled: false } });
    readyTimes.push(off.readyMs);
    try {
      await off.peer.run({ count: WARM_UP, concurrency: 16, payload: ECHO });
      const base = await measure(ceiling, { count: TASKS, concurrency: 16, payload: ECHO });
      const ours = await measure(off, { count: TASKS, concurrency: 16, payload: ECHO });
      const on = rows.find((r) => r.c === 16);
      rows.push({
        name: 'echo, inline, outbox off',
        c: 16,
        ...ours,
        ceiling: base,
        targets: [],
        note: `outbox on (default) is ${(on.rate / on.ceiling.rate / (ours.rate / base.rate)).toFixed(2)}× this`,
      });
    } finally {
      await off.stop();
    }
  }

  rows.push({
    name: 'RSS at READY (two packages installed)',
    value: readyRss,
    unit: 'MiB',
    note: `ceiling at READY ${ceiling.atReady.rss.toFixed(1)} MiB (${(readyRss / ceiling.atReady.rss).toFixed(2)}×)`,
    targets: [{ what: '≤ 50 MiB', ok: readyRss <= 50 }],
  });
  if (MEMORY_TASKS > 0) {
    // A fresh worker (with the inspector, for heap figures after a full GC): RSS at READY, a warm-up of
    // more tasks than the 10 000 answers the de-duplication memory holds (bounded by design), then
    // MEMORY_TASKS tasks at C=16; no task folder may be left behind.
    const fresh = await startWorkerProcess({ inspect: true });
    readyTimes.push(fresh.readyMs);
    try {
      const atReady = fresh.atReady.rss;
      await fresh.peer.run({ count: 12_000, concurrency: 16, payload: ECHO });
      const heapWarm = await fresh.heapAfterGc();
      const warm = (await fresh.memory()).rss;
      const started = performance.now();
      await fresh.peer.run({ count: MEMORY_TASKS, concurrency: 16, payload: ECHO });
      const seconds = (performance.now() - started) / 1000;
      await sleep(2000);
      const heapAfter = await fresh.heapAfterGc();
      const after = await fresh.memory();
      peaks.push(after.peak);
      const left = (await readdir(join(fresh.dir, 'var', 'data', 'bench')).catch(() => [])).length;
      const heapPerTask = (heapAfter - heapWarm) / MEMORY_TASKS;
      rows.push({
        name: `RSS after ${MEMORY_TASKS} tasks − RSS at READY`,
        value: after.rss - atReady,
        unit: 'MiB',
        note: `${atReady.toFixed(1)} → ${after.rss.toFixed(1)} MiB, ${(MEMORY_TASKS / seconds).toFixed(0)} tasks/s at C=16`,
        targets: [{ what: '≤ 5 MiB', ok: after.rss - atReady <= 5 }],
      });
      rows.push({
        name: `RSS after ${MEMORY_TASKS} tasks − RSS after the 12 000-task warm-up`,
        value: after.rss - warm,
        unit: 'MiB',
        note: `${warm.toFixed(1)} → ${after.rss.toFixed(1)} MiB`,
        targets: [{ what: '≤ 5 MiB', ok: after.rss - warm <= 5 }],
      });
      rows.push({
        name: 'heap growth per task after full GC',
        value: heapPerTask,
        unit: 'bytes/task',
        note: `heap ${(heapWarm / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MiB`,
        targets: [{ what: '< 8 bytes/task', ok: heapPerTask < 8 }],
      });
      rows.push({
        name: 'task folders left in data_dir',
        value: left,
        unit: 'folders',
        note: '',
        targets: [{ what: '0', ok: left === 0 }],
      });
    } finally {
      await fresh.stop();
    }
  }
  const ceilingPeak = (await ceiling.memory()).peak;
  await ceiling.stop();

  const peak = Math.max(...peaks);
  rows.push({
    name: 'peak RSS of the worker (VmHWM, any run above)',
    value: peak,
    unit: 'MiB',
    note: `ceiling peak ${ceilingPeak.toFixed(1)} MiB`,
    targets: [{ what: '≤ 100 MiB', ok: peak <= 100 }],
  });
  const ready = median(readyTimes);
  rows.push({
    name: 'READY after process start (two packages installed)',
    value: ready,
    unit: 'ms',
    note: `median of ${readyTimes.length} starts (${readyTimes.map((t) => t.toFixed(0)).join(', ')} ms)`,
    targets: [{ what: '≤ 300 ms', ok: ready <= 300 }],
  });
  if (!outboxKnown)
    rows.push({ name: 'outbox on vs off', value: Number.NaN, unit: '', note: 'no outbox settings on this build', targets: [] });
  return rows;
}
