#!/usr/bin/env node
// Per-task memory growth of the real worker binary, by heap snapshot diff.
//
//   pnpm bench:heap                         (from the repository root; builds first)
//   HEAP_TASKS=20000 pnpm bench:heap        (shorter run; thresholds scale with it)
//   HEAP_EXEC_MODE=auto pnpm bench:heap     (handler_exec_mode_default; default inline)
//
// The worker runs as a child process with the inspector on loopback. After a
// warm-up that fills every bounded cache (the 10 000-entry dispatch
// de-duplication memory among them), snapshot A is taken; then HEAP_TASKS echo
// tasks run, and snapshot B. Live objects are grouped by constructor name and
// diffed. Exits 1 when RSS grew more than 5 MiB, the live heap grew more than
// 1 byte per task, any constructor gained one instance per two tasks or more
// (a per-task leak), or a task folder was left in data_dir.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleArchivesDir } from '@astraflow/examples';
import { FrameType } from '@astraflow/protocol';
import { startReferenceScheduler } from '@astraflow/testkit';
import { WebSocket } from 'ws';
import { benchTask, installSampleEcho } from './bench-tasks.mjs';

const TASKS = Number(process.env.HEAP_TASKS ?? 100_000);
const WARM_UP = Number(process.env.HEAP_WARM_UP ?? 12_000);
const INFLIGHT = Number(process.env.HEAP_INFLIGHT ?? 64);
const EXEC_MODE = process.env.HEAP_EXEC_MODE ?? 'inline';
const RSS_LIMIT = 5 * 2 ** 20;
const BYTES_PER_TASK_LIMIT = 1;
const BIN = fileURLToPath(new URL('../../../apps/worker-cli/bin/astraflow-worker.js', import.meta.url));
const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Resident set size of another process, in bytes (Linux /proc). */
async function rssOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1]) * 1024;
}

/**
 * RSS after a full GC, the lowest of three readings a second apart: between
 * collections RSS swings by tens of MiB (new space, allocator arenas), which
 * would drown a 5 MiB limit.
 */
async function settledRss(inspector, pid) {
  const readings = [];
  for (let i = 0; i < 3; i++) {
    await inspector.call('HeapProfiler.collectGarbage');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    readings.push(await rssOf(pid));
  }
  return Math.min(...readings);
}

/** A Chrome DevTools Protocol client over the child's inspector WebSocket. */
async function connectInspector(url) {
  const ws = new WebSocket(url, { maxPayload: 0 });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const waiting = new Map();
  const events = new Map();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data));
    if (message.id !== undefined) {
      const entry = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) entry?.reject(new Error(`${message.error.message} (${message.error.code})`));
      else entry?.resolve(message.result);
    } else {
      events.get(message.method)?.(message.params);
    }
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const mine = ++id;
        waiting.set(mine, { resolve, reject });
        ws.send(JSON.stringify({ id: mine, method, params }));
      }),
    on: (method, listener) => events.set(method, listener),
    off: (method) => events.delete(method),
    close: () => ws.close(),
  };
}

/** Two full GCs, then `process.memoryUsage()` as the child sees it (bytes). */
async function gcAndMemoryUsage(inspector) {
  await inspector.call('HeapProfiler.collectGarbage');
  await inspector.call('HeapProfiler.collectGarbage');
  const used = await inspector.call('Runtime.evaluate', { expression: 'process.memoryUsage()', returnByValue: true });
  return used.result.value;
}

/** A heap snapshot of the child (after two full GCs), parsed. */
async function takeSnapshot(inspector) {
  await inspector.call('HeapProfiler.collectGarbage');
  await inspector.call('HeapProfiler.collectGarbage');
  const chunks = [];
  inspector.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => chunks.push(chunk));
  await inspector.call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
  inspector.off('HeapProfiler.addHeapSnapshotChunk');
  return JSON.parse(chunks.join(''));
}

/**
 * Live objects per group: `object`/`native` nodes by constructor name,
 * closures by function name, everything else by node type, as DevTools'
 * summary view groups them.
 */
function summarize(snapshot) {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const { nodes, strings } = snapshot;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]];
    const size = nodes[i + sizeAt];
    const key = type === 'object' || type === 'native' ? name : type === 'closure' ? `${name || '(anonymous)'}()` : `(${type})`;
    const group = groups.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += size;
    groups.set(key, group);
    total += size;
  }
  return { groups, total, nodeCount: nodes.length / width };
}

function diff(a, b) {
  const rows = [];
  for (const key of new Set([...a.groups.keys(), ...b.groups.keys()])) {
    const before = a.groups.get(key) ?? { count: 0, size: 0 };
    const after = b.groups.get(key) ?? { count: 0, size: 0 };
    rows.push({
      name: key,
      count: after.count - before.count,
      size: after.size - before.size,
      countB: after.count,
      sizeB: after.size,
    });
  }
  return rows;
}

function printTop(title, rows, by) {
  console.log(`\n${title}`);
  const top = [...rows].sort((x, y) => y[by] - x[by]).slice(0, 15);
  for (const r of top) {
    const name = r.name.length > 60 ? `${r.name.slice(0, 57)}...` : r.name;
    console.log(
      `  ${name.padEnd(60)} ${String(r.count >= 0 ? `+${r.count}` : r.count).padStart(9)} objects  ${String(r.size >= 0 ? `+${r.size}` : r.size).padStart(11)} bytes  (B: ${r.countB} / ${r.sizeB})`,
    );
  }
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'astra-heap-'));
  const scheduler = await startReferenceScheduler({ token: 'bench', seed: 3 });
  const files = await scheduler.serveFiles(sampleArchivesDir);
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('ASTRA_')) delete env[key];
  Object.assign(env, {
    ASTRA_WORKER_SCHEDULER_WS_URL: scheduler.url,
    ASTRA_WORKER_AUTH_TOKEN: 'bench',
    ASTRA_WORKER_PACKAGES_DIR: join(dir, 'pkgs'),
    ASTRA_WORKER_DATA_DIR: join(dir, 'data'),
    ASTRA_WORKER_LOG_LEVEL: 'error',
    ASTRA_WORKER_WS_PING_INTERVAL_SECONDS: '0',
    ASTRA_WORKER_HANDLER_DISPATCH_MAX_INFLIGHT: String(INFLIGHT),
    ASTRA_WORKER_HANDLER_EXEC_MODE_DEFAULT: EXEC_MODE,
    // A heap snapshot stops the child's event loop for seconds, which the load check
    // rightly reads as overload; it would refuse the tasks that follow a snapshot.
    ASTRA_WORKER_LOAD_EVENT_LOOP_DELAY_MAX_MS: '0',
  });
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', BIN], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stderr = '';
  const inspectorUrl = new Promise((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      stderr += chunk;
      const match = /Debugger listening on (ws:\/\/\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
  });
  const failures = [];
  try {
    await scheduler.waitForSession(undefined, 15_000);
    const rssAtSession = await rssOf(child.pid);
    const installed = await installSampleEcho(scheduler, files);
    if (installed.payload.status !== 'installed') throw new Error(`install failed: ${JSON.stringify(installed.payload)}`);

    // Answers counted by a listener: dispatch() would search the scheduler's whole (growing) history per task.
    let answered = 0;
    let errors = 0;
    let firstError;
    let wake = () => {};
    scheduler.onFrame((frame, kind) => {
      if (kind !== 'delivered') return;
      if (frame.type === FrameType.EXEC_RESULT || frame.type === FrameType.EXEC_ERROR) {
        answered++;
        if (frame.type === FrameType.EXEC_ERROR) {
          errors++;
          firstError ??= frame.payload;
        }
        wake();
      }
    });
    const run = async (from, count) => {
      const base = answered;
      for (let i = from; i < from + count; i++) {
        while (i - from - (answered - base) >= INFLIGHT) await new Promise((resolve) => (wake = resolve));
        await scheduler.send(FrameType.EXEC_DISPATCH, benchTask({ taskId: `h${i}` }));
      }
      while (answered < base + count) await new Promise((resolve) => (wake = resolve));
    };

    await run(0, WARM_UP);
    // Let acks, outbox compaction and timers from the warm-up settle.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const inspector = await connectInspector(await inspectorUrl);
    const snapA = summarize(await takeSnapshot(inspector));
    const memA = await gcAndMemoryUsage(inspector);
    const heapA = memA.heapUsed;
    // RSS at READY is read after snapshot A, so the snapshot's own buffers count on both sides.
    const rssReady = await settledRss(inspector, child.pid);

    // RSS along the run tells a steady climb (a native leak) from an allocator settling once.
    const rssSteps = [];
    const step = Math.max(1, Math.floor(TASKS / 10));
    const started = performance.now();
    for (let done = 0; done < TASKS; done += step) {
      await run(WARM_UP + done, Math.min(step, TASKS - done));
      rssSteps.push(await rssOf(child.pid));
    }
    const seconds = (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const memB = await gcAndMemoryUsage(inspector);
    const heapB = memB.heapUsed;
    const rssAfter = await settledRss(inspector, child.pid);
    const snapB = summarize(await takeSnapshot(inspector));
    inspector.close();

    const rows = diff(snapA, snapB);
    const perTask = (snapB.total - snapA.total) / TASKS;
    const leakAt = TASKS / 2;
    const leaks = rows.filter((r) => r.count >= leakAt);
    // Task folders are <data_dir>/<run>/<task>: count them under every run folder.
    const dataDir = join(dir, 'data');
    let left = 0;
    for (const run of await readdir(dataDir).catch(() => [])) left += (await readdir(join(dataDir, run)).catch(() => [])).length;

    console.log(
      `\nAstraFlow worker heap snapshot diff: ${TASKS} echo tasks after a ${WARM_UP}-task warm-up, ${INFLIGHT} in flight, exec mode ${EXEC_MODE}`,
    );
    console.log(`  ${(TASKS / seconds).toFixed(0)} tasks/s; ${errors} of ${WARM_UP + TASKS} answers were errors`);
    console.log(
      `  RSS at session start ${MiB(rssAtSession)}; at READY (after warm-up and snapshot A) ${MiB(rssReady)}; after ${MiB(rssAfter)}  (growth ${MiB(rssAfter - rssReady)}, limit 5 MiB)`,
    );
    console.log(`  RSS every ${step} tasks (no GC forced): ${rssSteps.map((r) => (r / 2 ** 20).toFixed(1)).join(' ')} MiB`);
    console.log(
      `  heap used after full GC: A ${MiB(heapA)}, B ${MiB(heapB)}  (${((heapB - heapA) / TASKS).toFixed(2)} bytes/task)`,
    );
    console.log(
      `  heap total A ${MiB(memA.heapTotal)}, B ${MiB(memB.heapTotal)}; external A ${MiB(memA.external)}, B ${MiB(memB.external)}; array buffers A ${MiB(memA.arrayBuffers)}, B ${MiB(memB.arrayBuffers)}`,
    );
    console.log(
      `  snapshot live size: A ${snapA.total} bytes (${snapA.nodeCount} objects), B ${snapB.total} bytes (${snapB.nodeCount} objects)`,
    );
    console.log(
      `  growth per task (snapshot B - A) / ${TASKS}: ${perTask.toFixed(3)} bytes/task (limit ${BYTES_PER_TASK_LIMIT})`,
    );
    console.log(`  task folders left in data_dir: ${left}`);
    printTop('Top 15 by count growth', rows, 'count');
    printTop('Top 15 by size growth', rows, 'size');

    if (rssAfter - rssReady > RSS_LIMIT) failures.push(`RSS grew ${MiB(rssAfter - rssReady)} (> 5 MiB)`);
    if (perTask > BYTES_PER_TASK_LIMIT)
      failures.push(`live heap grew ${perTask.toFixed(3)} bytes/task (> ${BYTES_PER_TASK_LIMIT})`);
    for (const r of leaks) failures.push(`per-task leak: ${r.name} +${r.count} instances (≥ ${leakAt})`);
    if (left > 0) failures.push(`${left} task folders left in data_dir`);
    if (errors > 0) failures.push(`${errors} tasks answered with an error, the first: ${JSON.stringify(firstError)}`);
  } catch (error) {
    failures.push(`run failed: ${error instanceof Error ? error.stack : String(error)}\nworker stderr:\n${stderr}`);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await scheduler.close();
    await rm(dir, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.log(`\nFAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log('\nPASSED: no per-task growth');
  }
}

await main();
