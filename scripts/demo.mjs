#!/usr/bin/env node
// `pnpm demo`: the whole worker, end to end, on this machine.
//
// Starts the reference scheduler of @astraflow/testkit, serves the sample
// package archives of @astraflow/examples over HTTP, runs the real
// `astraflow-worker` binary as a child process against it, installs the
// samples, dispatches a handful of tasks, prints what came back, and stops
// the worker with SIGTERM. Exits 0 only if every outcome is the expected one
// and the worker exited 0. Expects `pnpm build` to have run (`pnpm demo` does).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { errorMessage } from '@astraflow/protocol';
import { startReferenceScheduler } from '@astraflow/testkit';

const BIN = fileURLToPath(new URL('../apps/worker-cli/bin/astraflow-worker.js', import.meta.url));
const TOKEN = 'demo-token';
/** The whole demo must be over well within 30 s. */
const DEMO_DEADLINE_MS = 25_000;
const STEP_TIMEOUT_MS = 10_000;

const say = (text) => process.stdout.write(`${text}\n`);

/** Rejects with `what` when `promise` takes longer than `ms`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The tasks of the demo and what each must come back with. */
function demoTasks() {
  let n = 0;
  const dispatch = (nodeType, parameters, extra = {}) => ({
    run_id: 'demo-run',
    task_id: `task-${++n}`,
    node_id: `node-${n}`,
    node_type: nodeType,
    package_name: nodeType.split('.')[0],
    package_version: '1.0.0',
    parameters,
    constraints: {},
    ...extra,
  });
  return [
    { title: 'echo', payload: dispatch('echo.echo', { message: 'hello, AstraFlow' }), expected: 'SUCCEEDED' },
    { title: 'feedback stream', payload: dispatch('samples.feedback', { count: 3 }), expected: 'SUCCEEDED', feedback: 3 },
    { title: 'CPU work in a thread', payload: dispatch('samples.cpu', { ms: 200 }), expected: 'SUCCEEDED' },
    { title: 'status word "skip"', payload: dispatch('samples.status', { status: 'skip' }), expected: 'SKIPPED' },
    { title: 'handler throws', payload: dispatch('echo.fail', {}), expected: 'E.RUNNER.FAILURE' },
    {
      title: 'holds key invoice-42',
      payload: dispatch('samples.slow', { ms: 800 }, { concurrency_key: 'invoice-42' }),
      expected: 'SUCCEEDED',
    },
    {
      title: 'same key, meanwhile',
      payload: dispatch('samples.slow', { ms: 800 }, { concurrency_key: 'invoice-42' }),
      expected: 'E.CMD.CONCURRENCY_VIOLATION',
    },
  ];
}

/** What a `biz.exec.result` / `biz.exec.error` says, in one line. */
function describeAnswer(frame, feedback) {
  if (frame.type === 'biz.exec.result') {
    const p = frame.payload;
    const mode = p.metadata?.exec_mode ? `${p.metadata.exec_mode}, ` : '';
    const extra = feedback ? `; feedback: ${feedback.frames} frames, ${feedback.chunks} text chunks, ${feedback.progress}` : '';
    return { outcome: p.status, detail: `${mode}${p.duration_ms} ms, ${clip(JSON.stringify(p.result), 36)}${extra}` };
  }
  return { outcome: frame.payload.code, detail: frame.payload.message };
}

const clip = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

function table(rows) {
  const headers = ['#', 'node type', 'what', 'expected', 'got', 'ok', 'details'];
  const cells = rows.map((r, i) => [String(i + 1), r.nodeType, r.title, r.expected, r.outcome, r.ok ? 'yes' : 'NO', r.detail]);
  const widths = headers.map((h, c) => Math.max(h.length, ...cells.map((row) => Math.min(row[c].length, c === 6 ? 80 : 40))));
  const line = (row) =>
    row
      .map((cell, c) => clip(cell, c === 6 ? 80 : 40).padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'astraflow-demo-'));
  const logPath = join(dir, 'worker.log');
  let scheduler;
  let child;
  let childExit;
  const killChild = () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // On any way out, even process.exit(): no orphaned worker, no leftover folder.
  process.once('exit', () => {
    killChild();
    rmSync(dir, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      say(`demo interrupted by ${signal}`);
      process.exit(130); // the 'exit' hook cleans up
    });
  }
  try {
    // An explicit config file, so no /etc/astraflow/worker.yaml or ./config of this machine leaks in.
    const configFile = join(dir, 'worker.yaml');
    await writeFile(
      configFile,
      [
        'heartbeat_interval_seconds: 2',
        'heartbeat_jitter_seconds: 0.5',
        'ws_ping_interval_seconds: 0',
        'shutdown_grace_seconds: 10',
        '',
      ].join('\n'),
    );

    scheduler = await startReferenceScheduler({ token: TOKEN });
    const files = await scheduler.serveFiles(sampleArchivesDir);
    say(`reference scheduler   ${scheduler.url}`);
    say(`package archives      ${files.baseUrl}`);

    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ASTRA_')));
    Object.assign(env, {
      ASTRA_WORKER_CONFIG_FILE: configFile,
      ASTRA_WORKER_AUTH_TOKEN: TOKEN,
      ASTRA_WORKER_WORKER_NAME: 'demo-worker',
      ASTRA_WORKER_HANDLER_DISPATCH_MAX_INFLIGHT: '4',
    });
    const log = createWriteStream(logPath);
    child = spawn(process.execPath, [BIN, '--scheduler-url', scheduler.url, '--log-level', 'info'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    childExit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // Every step below also fails at once if the worker dies under it.
    const died = childExit.then(({ code, signal }) => {
      throw new Error(`worker exited early (code ${code}, signal ${signal}): ${stderr.trim() || 'see its log'}`);
    });
    died.catch(() => {});
    const step = (what, promise) => within(STEP_TIMEOUT_MS, what, Promise.race([promise, died]));
    say(`worker                node ${BIN.replace(`${process.cwd()}/`, '')} (pid ${child.pid})`);

    const accept = await step('the worker to connect', scheduler.waitForSession(undefined, STEP_TIMEOUT_MS));
    say(`session               ${accept.payload.session_id}`);

    for (const name of ['echo', 'samples']) {
      const archive = sampleArchive(name, '1.0.0');
      const url = files.urlFor(archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, ''));
      const event = await step(
        `install ${name}`,
        scheduler.installPackage({ name, version: '1.0.0', url, sha256: archive.sha256 }),
      );
      say(
        `install ${`${name}@1.0.0`.padEnd(14)}${event.payload.status}${event.payload.status === 'installed' ? '' : ` ${JSON.stringify(event.payload.details)}`}`,
      );
      if (event.payload.status !== 'installed') throw new Error(`package ${name} did not install`);
    }

    // Count the feedback of each task as the scheduler receives it.
    const feedback = new Map();
    scheduler.onFrame((frame) => {
      if (frame.type !== 'biz.exec.feedback') return;
      const f = feedback.get(frame.payload.task_id) ?? { frames: 0, chunks: 0, progress: '-' };
      f.frames += 1;
      f.chunks += (frame.payload.chunks ?? []).filter((c) => typeof c.text === 'string').length;
      if (typeof frame.payload.progress === 'number') f.progress = `${Math.round(frame.payload.progress * 100)}%`;
      feedback.set(frame.payload.task_id, f);
    });

    const tasks = demoTasks();
    const handles = tasks.map((t) => scheduler.dispatch(t.payload));
    const answers = await step('the task answers', Promise.all(handles.map((h) => h.done)));
    const rows = tasks.map((t, i) => {
      const fb = feedback.get(t.payload.task_id);
      const { outcome, detail } = describeAnswer(answers[i], t.feedback ? fb : undefined);
      const feedbackOk = t.feedback === undefined || (fb !== undefined && fb.chunks === t.feedback && fb.progress === '100%');
      return {
        nodeType: t.payload.node_type,
        title: t.title,
        expected: t.expected,
        outcome,
        detail,
        ok: outcome === t.expected && feedbackOk,
      };
    });

    // An uninstall is reported by the re-register that no longer lists the version (docs/protocol.md §6).
    const registersBefore = scheduler.registers.length;
    await step('uninstall echo', scheduler.send('biz.pkg.uninstall', { name: 'echo', version: '1.0.0' }));
    const reregister = await step(
      'the re-register after the uninstall',
      scheduler.waitFor(
        (f) => f.type === 'control.register' && scheduler.registers.indexOf(f) >= registersBefore,
        STEP_TIMEOUT_MS,
      ),
    );
    const removed = !reregister.payload.packages.some((p) => p.name === 'echo' && p.version === '1.0.0');
    say(`uninstall echo@1.0.0  ${removed ? 'uninstalled (re-register without it)' : 'STILL LISTED'}`);

    say('');
    say(table(rows));
    say('');

    child.kill('SIGTERM');
    const exit = await within(STEP_TIMEOUT_MS, 'the worker to stop', childExit);
    say(`SIGTERM               worker drained and exited with code ${exit.code}`);
    const violations = scheduler.violations;
    if (violations.length > 0) say(`protocol violations   ${violations.join('; ')}`);

    const failed = rows.filter((r) => !r.ok);
    const good = failed.length === 0 && exit.code === 0 && removed && violations.length === 0;
    say(
      good ? `demo ok: ${rows.length} tasks, every outcome as expected` : `demo FAILED: ${failed.length} unexpected outcome(s)`,
    );
    if (!good) await showLogTail(logPath);
    return good ? 0 : 1;
  } catch (err) {
    say(`demo FAILED: ${errorMessage(err)}`);
    await showLogTail(logPath);
    return 1;
  } finally {
    killChild();
    if (childExit) await within(5000, 'the worker process to end', childExit).catch(() => {});
    await scheduler?.close().catch(() => {});
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  }
}

async function showLogTail(logPath) {
  if (!existsSync(logPath)) return;
  const lines = (await readFile(logPath, 'utf8')).trimEnd().split('\n').slice(-20);
  process.stderr.write(`last worker log lines:\n${lines.join('\n')}\n`);
}

const deadline = setTimeout(() => {
  say(`demo FAILED: not finished within ${DEMO_DEADLINE_MS / 1000} s`);
  process.exit(1); // the 'exit' hook kills the worker
}, DEMO_DEADLINE_MS);

if (!existsSync(BIN)) {
  say(`demo FAILED: ${BIN} is missing; run pnpm build first (pnpm demo does)`);
  process.exit(1);
}
const code = await main();
clearTimeout(deadline);
process.exit(code);
