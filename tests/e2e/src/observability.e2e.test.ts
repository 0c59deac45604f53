import { FrameType, type ExecErrorPayload, type ExecResultPayload, type Frame } from '@astraflow/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { installSample, sleep, startHarness, task, type Harness, type HarnessOptions } from './harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.cleanup();
});

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness({
    ...options,
    settings: { http_enabled: true, http_port: 0, session_accept_timeout_seconds: 0.5, ...options.settings },
  });
  harnesses.push(h);
  return h;
}

function healthUrl(h: Harness): string {
  const url = h.worker.healthUrl;
  if (url === undefined) throw new Error('health endpoint is off');
  return url;
}

const status = async (h: Harness, path: string): Promise<number> => (await fetch(`${healthUrl(h)}${path}`)).status;

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Families (`# TYPE`) and samples of a scrape. */
interface Scrape {
  types: Map<string, string>;
  samples: Sample[];
  /** The value of the one sample with this name and exactly these labels, or undefined. */
  get(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE_LINE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*)?,?\\})? (\\S+)(?: -?\\d+)?$`);
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] };

/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4):
 * every line must be a HELP/TYPE comment, blank, or a well-formed sample of
 * a declared family. Throws on anything else.
 */
function parsePrometheus(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        expect(comment[3], `line ${i + 1}`).toMatch(/^(counter|gauge|histogram|summary|untyped)$/);
        expect(types.has(comment[2]!), `duplicate TYPE in line ${i + 1}`).toBe(false);
        types.set(comment[2]!, comment[3]!);
      }
      continue;
    }
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not Prometheus text: ${line}`);
    const [, name, rawLabels, rawValue] = m;
    if (!VALUE.test(rawValue!)) throw new Error(`line ${i + 1}: bad value ${rawValue}`);
    const family = [...types.keys()].find(
      (f) => f === name || (SUFFIXES[types.get(f)!] ?? []).some((suffix) => `${f}${suffix}` === name),
    );
    if (family === undefined) throw new Error(`line ${i + 1}: sample ${name} of an undeclared family`);
    const labels: Record<string, string> = {};
    for (const l of (rawLabels ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: name!, labels, value: Number(rawValue!.replace('Inf', 'Infinity')) });
  }
  return {
    types,
    samples,
    get(name, labels = {}) {
      const want = JSON.stringify(Object.entries(labels).sort());
      const found = samples.filter((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${want}`);
      return found[0]?.value;
    },
  };
}

async function scrape(h: Harness): Promise<Scrape> {
  const res = await fetch(`${healthUrl(h)}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

const P = 'astraflow_worker_';
const outcomeOf = (f: Frame): string =>
  f.type === FrameType.EXEC_RESULT ? (f.payload as ExecResultPayload).status : (f.payload as ExecErrorPayload).code;

describe('health endpoint', () => {
  it('/healthz answers while /readyz follows the session: not before accept, yes when READY, not while reconnecting or draining', async () => {
    const h = await harness({ scheduler: { suppressAccept: true } });
    expect(healthUrl(h)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const healthz = await fetch(`${healthUrl(h)}/healthz`);
    expect(healthz.status).toBe(200);
    expect(await healthz.json()).toEqual({ status: 'ok' });

    // Registered but never accepted: alive, not ready.
    await h.scheduler.waitFor((f) => f.type === FrameType.REGISTER, 10_000);
    expect(h.worker.state).not.toBe('READY');
    const notReady = await fetch(`${healthUrl(h)}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ready: false, reason: 'not_connected' });

    h.scheduler.suppressAccept = false;
    await h.worker.session.whenReady(10_000);
    const ready = await fetch(`${healthUrl(h)}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true });

    // Link lost and the scheduler holds back its accept: not ready until it comes.
    h.scheduler.suppressAccept = true;
    expect(h.scheduler.kill()).toBe(true);
    await until(() => h.worker.state !== 'READY', 'the worker to notice the lost link');
    expect(await status(h, '/readyz')).toBe(503);
    expect(await status(h, '/healthz')).toBe(200);
    h.scheduler.suppressAccept = false;
    await h.worker.session.whenReady(10_000);
    expect(await status(h, '/readyz')).toBe(200);

    // Draining: the session stays up (DRAINING), but the worker wants no more work.
    h.worker.drain();
    expect(h.worker.state).toBe('DRAINING');
    const draining = await fetch(`${healthUrl(h)}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ ready: false, reason: 'draining' });
    expect(await status(h, '/healthz')).toBe(200);
    expect(await status(h, '/nope')).toBe(404);
    expect((await fetch(`${healthUrl(h)}/healthz`, { method: 'POST' })).status).toBe(405);
  });

  it('is off unless enabled', async () => {
    const h = await startHarness({ settings: { http_enabled: false } });
    harnesses.push(h);
    await h.worker.session.whenReady(10_000);
    expect(h.worker.healthUrl).toBeUndefined();
    expect(h.worker.metrics).toBeUndefined();
  });
});

describe('/metrics', () => {
  it('parses as Prometheus text, and its counters, gauges and histograms move with the work', async () => {
    const h = await harness();
    await h.worker.session.whenReady(10_000);
    expect((await installSample(h, 'samples')).payload).toMatchObject({ status: 'installed' });
    const before = await scrape(h);

    const families: Record<string, string> = {
      inflight_tasks: 'gauge',
      task_duration_seconds: 'histogram',
      build_info: 'gauge',
      session_state: 'gauge',
      capacity_tasks: 'gauge',
      tasks_started_total: 'counter',
      heartbeat_sent_total: 'counter',
      frames_in_total: 'counter',
      frames_out_total: 'counter',
      invalid_frames_total: 'counter',
      duplicate_frames_total: 'counter',
      retransmissions_total: 'counter',
      reconnects_total: 'counter',
      queue_depth: 'gauge',
      dropped_frames_total: 'counter',
    };
    for (const [name, type] of Object.entries(families)) expect(before.types.get(`${P}${name}`), name).toBe(type);
    // prom-client's defaults, what every Node dashboard expects.
    expect(before.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(before.types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(before.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    const buildInfo = before.samples.filter((x) => x.name === `${P}build_info`);
    expect(buildInfo).toHaveLength(1);
    expect(buildInfo[0]!.labels).toMatchObject({
      node_version: process.version,
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    expect(buildInfo[0]!.value).toBe(1);
    expect(before.get(`${P}session_state`, { state: 'READY' })).toBe(1);
    expect(before.get(`${P}session_state`, { state: 'BACKOFF' })).toBe(0);
    expect(before.get(`${P}capacity_tasks`)).toBe(h.worker.settings.concurrency_max_parallel);
    for (const queue of ['transport', 'app', 'outbox', 'unacked', 'dispatch']) {
      expect(before.get(`${P}queue_depth`, { queue }), queue).toBe(0);
    }
    expect(before.get(`${P}inflight_tasks`)).toBe(0);

    // Finished tasks land in the histogram by node type and outcome.
    const answers = await Promise.all([
      h.scheduler.dispatch(task('samples.status', { status: 'ok' })).done,
      h.scheduler.dispatch(task('samples.status', { status: 'done' })).done,
      h.scheduler.dispatch(task('samples.fail')).done,
    ]);
    expect(answers.map(outcomeOf)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'E.RUNNER.FAILURE']);
    // Node types nobody installed come from the scheduler's frames: they must not mint series.
    const bogus = await Promise.all(['no.such.type.1', 'no.such.type.2'].map((t) => h.scheduler.dispatch(task(t)).done));
    expect(bogus.map(outcomeOf).every((o) => o.startsWith('E.'))).toBe(true);

    // A running task shows in the gauge.
    const slow = h.scheduler.dispatch(task('samples.slow', { ms: 600 }));
    await until(() => h.worker.inflight === 1, 'samples.slow to be in flight');
    expect((await scrape(h)).get(`${P}inflight_tasks`)).toBe(1);
    expect(outcomeOf(await slow.done)).toBe('SUCCEEDED');

    // A result whose ack is withheld is retransmitted.
    h.scheduler.faults.withholdAcks = (f) => f.type === FrameType.EXEC_RESULT;
    const held = h.scheduler.dispatch(task('samples.status', { status: 'ok' }));
    await until(() => h.worker.session.stats.retransmissions > 0, 'a retransmission');
    h.scheduler.faults.withholdAcks = false;
    await held.done;

    // A lost link is a reconnect.
    const heartbeats = h.scheduler.heartbeats.length;
    expect(h.scheduler.kill()).toBe(true);
    await h.scheduler.waitForSession({ resumed: true }, 10_000);
    await until(() => h.scheduler.heartbeats.length > heartbeats, 'a heartbeat after the resume');
    await until(() => h.worker.inflight === 0 && h.worker.session.stats.unacked === 0, 'everything acked');

    const after = await scrape(h);
    const count = (nodeType: string, outcome: string) =>
      after.get(`${P}task_duration_seconds_count`, { node_type: nodeType, outcome });
    expect(count('samples.status', 'SUCCEEDED')).toBe(3);
    expect(count('samples.fail', 'E.RUNNER.FAILURE')).toBe(1);
    expect(count('samples.slow', 'SUCCEEDED')).toBe(1);
    expect(
      after.get(`${P}task_duration_seconds_sum`, { node_type: 'samples.slow', outcome: 'SUCCEEDED' }),
    ).toBeGreaterThanOrEqual(0.6);
    expect(after.get(`${P}task_duration_seconds_sum`, { node_type: 'samples.slow', outcome: 'SUCCEEDED' })).toBeLessThan(60);
    expect(after.get(`${P}task_duration_seconds_bucket`, { node_type: 'samples.slow', outcome: 'SUCCEEDED', le: '+Inf' })).toBe(
      1,
    );
    expect(after.samples.filter((x) => Object.values(x.labels).some((v) => v.startsWith('no.such')))).toEqual([]);
    expect(after.get(`${P}tasks_started_total`, { node_type: '_other' })).toBe(2);
    expect(after.get(`${P}tasks_started_total`, { node_type: 'samples.status' })).toBe(3);
    expect(after.get(`${P}inflight_tasks`)).toBe(0);

    const grew = (name: string) => [before.get(`${P}${name}`) ?? NaN, after.get(`${P}${name}`) ?? NaN];
    for (const name of [
      'heartbeat_sent_total',
      'frames_in_total',
      'frames_out_total',
      'retransmissions_total',
      'reconnects_total',
    ]) {
      const [b, a] = grew(name);
      expect(a, name).toBeGreaterThan(b!);
    }
    expect(after.get(`${P}reconnects_total`)).toBe(h.worker.session.stats.reconnects);
    expect(h.scheduler.violations).toEqual([]);
  });

  it('counts dispatches a full queue drops, as many as were refused (E.RUNNER.CANCELLED, reason overflow)', async () => {
    const h = await harness({
      settings: { handler_dispatch_max_inflight: 1, handler_dispatch_queue_max: 1, handler_dispatch_queue_overflow: 'drop_new' },
    });
    await h.worker.session.whenReady(10_000);
    await installSample(h, 'samples');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => h.scheduler.dispatch(task('samples.slow', { ms: 100 })).done),
    );
    const overflows = answers.filter(
      (a) => outcomeOf(a) === 'E.RUNNER.CANCELLED' && (a.payload as ExecErrorPayload).context?.details?.reason === 'overflow',
    ).length;
    expect(overflows).toBeGreaterThanOrEqual(1);
    const metrics = await scrape(h);
    expect(metrics.get(`${P}dropped_frames_total`, { queue: 'dispatch_queue_overflow' })).toBe(overflows);
    expect(metrics.get(`${P}task_duration_seconds_count`, { node_type: 'samples.slow', outcome: 'SUCCEEDED' })).toBe(
      6 - overflows,
    );
  });
});
