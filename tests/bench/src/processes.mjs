// Child processes of the like-for-like benchmark: the real worker binary and
// the ceiling responder, each with its own scheduler peer in the bench
// process. Memory is read from /proc, so the figures are the child's own.
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startSchedulerPeer } from './scheduler-peer.mjs';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
export const WORKER_BIN = here('../../../apps/worker-cli/bin/astraflow-worker.js');
const CEILING = here('./ceiling-responder.mjs');
const BENCH_PACKAGE = here('../fixtures/bench');
const SAMPLES_PACKAGE = here('../../../examples/packages/samples');
const MiB = 2 ** 20;

/** VmRSS and VmHWM (peak RSS) of a process, in MiB (Linux /proc). */
export async function memoryOf(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB$`, 'm').exec(status)?.[1]);
  return { rss: (kb('VmRSS') * 1024) / MiB, peak: (kb('VmHWM') * 1024) / MiB };
}

/** User + system CPU time of a process so far, in ms (Linux /proc; 10 ms resolution). */
export async function cpuTimeOf(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/**
 * Heap of another Node process after a full GC, through the inspector
 * protocol (the child runs with --inspect on loopback): the figure RSS
 * cannot give, since RSS also holds garbage not yet collected.
 */
export async function heapAfterGc(inspectorUrl) {
  const ws = new WebSocket(inspectorUrl);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const call = (method, params = {}) =>
    new Promise((resolve) => {
      const mine = ++id;
      const onMessage = (data) => {
        const message = JSON.parse(String(data));
        if (message.id !== mine) return;
        ws.off('message', onMessage);
        resolve(message.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  const result = await call('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
  ws.close();
  return result.result.value;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function watch(child, name) {
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const failedEarly = exited.then(({ code, signal }) => {
    throw new Error(`${name} exited (${code ?? signal}) before its session was ready: ${stderr.trim()}`);
  });
  failedEarly.catch(() => {});
  return { exited, failedEarly, stderr: () => stderr };
}

/**
 * A packages folder with two packages installed, as the worker leaves them:
 * the bench package (async echo, sync echo, feedback) and the samples.
 */
async function preparePackages(dir) {
  const pkgs = join(dir, 'pkgs');
  await mkdir(pkgs, { recursive: true });
  await cp(BENCH_PACKAGE, join(pkgs, 'bench', '1.0.0'), { recursive: true });
  await cp(SAMPLES_PACKAGE, join(pkgs, 'samples', '1.0.0'), { recursive: true });
  return pkgs;
}

/**
 * Starts the real `astraflow-worker` binary against its own peer and waits
 * for READY. `settings` are extra `ASTRA_WORKER_*` values (snake_case keys).
 * `readyMs` is process start to session accept; `atReady` the child's memory
 * a moment after it went READY.
 */
export async function startWorkerProcess({ settings = {}, cpuProfDir, inspect = false } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'astra-bench-'));
  const peer = await startSchedulerPeer();
  const env = {
    PATH: process.env.PATH ?? '',
    ASTRA_WORKER_SCHEDULER_WS_URL: peer.url,
    ASTRA_WORKER_AUTH_TOKEN: peer.token,
    ASTRA_WORKER_PACKAGES_DIR: await preparePackages(dir),
    ASTRA_WORKER_DATA_DIR: join(dir, 'var', 'data'),
    ASTRA_WORKER_WORKER_NAME: 'bench-worker',
    ASTRA_WORKER_LOG_LEVEL: 'warn',
    ASTRA_WORKER_HANDLER_DISPATCH_MAX_INFLIGHT: '64',
    ASTRA_WORKER_CONCURRENCY_MAX_PARALLEL: '64',
  };
  for (const [key, value] of Object.entries(settings)) env[`ASTRA_WORKER_${key.toUpperCase()}`] = String(value);
  const args = [
    ...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []),
    ...(inspect ? ['--inspect=127.0.0.1:0'] : []),
    WORKER_BIN,
  ];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  const watched = watch(child, 'astraflow-worker');
  const inspectorUrl = inspect
    ? new Promise((resolve) => {
        let text = '';
        child.stderr.on('data', (chunk) => {
          text += chunk;
          const match = /Debugger listening on (ws:\/\/\S+)/.exec(text);
          if (match) resolve(match[1]);
        });
      })
    : undefined;
  try {
    await Promise.race([peer.whenReady(), watched.failedEarly]);
  } catch (err) {
    child.kill('SIGKILL');
    await peer.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const readyMs = peer.readyAt - started;
  await sleep(100); // the accept is on its way; let the worker apply it and settle
  const atReady = await memoryOf(child.pid);
  return {
    peer,
    pid: child.pid,
    dir,
    readyMs,
    atReady,
    memory: () => memoryOf(child.pid),
    cpuTime: () => cpuTimeOf(child.pid),
    /** Heap used after a full GC, in bytes (only with `inspect`). */
    heapAfterGc: async () => heapAfterGc(await inspectorUrl),
    async stop() {
      child.kill('SIGTERM');
      const { code } = await Promise.race([watched.exited, sleep(10_000).then(() => ({ code: 'timeout' }))]);
      if (code === 'timeout') child.kill('SIGKILL');
      await peer.close();
      await rm(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`astraflow-worker did not stop cleanly (${code}): ${watched.stderr().trim()}`);
    },
  };
}

/** Starts the ceiling responder against its own peer and waits for its session. */
export async function startCeilingProcess() {
  const peer = await startSchedulerPeer();
  const child = spawn(process.execPath, [CEILING, peer.url, peer.token], { stdio: ['ignore', 'ignore', 'pipe'] });
  const watched = watch(child, 'ceiling responder');
  await Promise.race([peer.whenReady(), watched.failedEarly]);
  await sleep(100);
  const atReady = await memoryOf(child.pid);
  return {
    peer,
    pid: child.pid,
    atReady,
    memory: () => memoryOf(child.pid),
    cpuTime: () => cpuTimeOf(child.pid),
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([watched.exited, sleep(5000).then(() => child.kill('SIGKILL'))]);
      await peer.close();
    },
  };
}
