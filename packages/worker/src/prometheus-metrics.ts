import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { DispatchStats } from './dispatch/exec-dispatch-handler.js';
import type { RouterStats } from './dispatch/router.js';
import type { LoadSample } from './load/load-monitor.js';
import type { DurableOutboxStats } from './durable-outbox.js';
import type { TaskMetrics } from './metrics.js';
import type { SessionStats } from './session/session-types.js';
import type { SessionState } from './session/session-state.js';

/** What the Prometheus exporter reads on each scrape (a `Worker` satisfies it). */
export interface MetricsSource {
  readonly inflight: number;
  readonly state: SessionState;
  readonly settings: { readonly concurrency_max_parallel: number };
  readonly session: { readonly stats: SessionStats };
  readonly router: { readonly queued: number; readonly stats: RouterStats };
  /** Admission by load; absent = not reported. */
  readonly load?: { readonly overloaded: boolean; readonly last: LoadSample };
  /** Overload refusals and handler overruns; absent = not reported. */
  readonly dispatchStats?: Readonly<DispatchStats>;
  /** The durable outbox, when on. */
  readonly outbox?: { readonly stats: DurableOutboxStats } | undefined;
}

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * Whether a node type from a dispatch is one this worker has installed. Other
   * values, and any beyond {@link MAX_LABEL_VALUES} distinct ones, are recorded
   * as {@link OTHER_LABEL} so a scheduler cannot create unbounded series.
   * Default: every value is accepted (still capped).
   */
  knowsNodeType?: (nodeType: string) => boolean;
}

/** Label value standing for node types or outcomes that are unknown or over the cap. */
export const OTHER_LABEL = '_other';
/** Most distinct values one label keeps before collapsing the rest into {@link OTHER_LABEL}. */
export const MAX_LABEL_VALUES = 200;

const SESSION_STATES: readonly SessionState[] = ['NEW', 'HANDSHAKING', 'REGISTERED', 'READY', 'DRAINING', 'BACKOFF', 'CLOSED'];
// Statuses and error codes (`E.RUNNER.FAILURE`): anything else from a handler is collapsed.
const OUTCOME_RE = /^(?:[A-Z][A-Z_]{0,31}|E(?:\.[A-Z][A-Z0-9_]{0,31}){1,4})$/;

function workerVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Admits a label value if `accept` says so and the cap is not reached; otherwise {@link OTHER_LABEL}. */
function boundedLabel(accept: (value: string) => boolean): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= MAX_LABEL_VALUES || !accept(value)) return OTHER_LABEL;
    seen.add(value);
    return value;
  };
}

/** Prometheus metrics of one worker, in a registry of its own (no global state). */
export interface PrometheusMetrics extends TaskMetrics {
  readonly registry: Registry;
  /** Points the scrape-time gauges and counters at a worker. */
  bind(source: MetricsSource): void;
  /** The exposition text. */
  render(): Promise<string>;
  readonly contentType: string;
}

const PREFIX = 'astraflow_worker_';

// prom-client (CommonJS) is required on first use: a worker without the HTTP endpoint never loads it (~10 MiB of RSS).
const requireLazily = createRequire(import.meta.url);

/**
 * Creates the worker's Prometheus metrics (prom-client): the worker's own
 * under `astraflow_worker_`, plus prom-client's default `process_*` and
 * `nodejs_*` metrics. Durations are in seconds, Prometheus' base unit.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } = requireLazily(
    'prom-client',
  ) as typeof import('prom-client');
  const registry = new Registry();
  let source: MetricsSource | undefined;
  const nodeTypeLabel = boundedLabel(options.knowsNodeType ?? (() => true));
  const outcomeLabel = boundedLabel((value) => OUTCOME_RE.test(value));

  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: `${PREFIX}build_info`,
    help: 'Always 1; labels carry the worker version and the Node.js version.',
    labelNames: ['version', 'node_version'],
    registers: [registry],
  }).set({ version: workerVersion(), node_version: process.version }, 1);
  new Gauge({
    name: `${PREFIX}session_state`,
    help: 'Session state: 1 for the current state, 0 for the others.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      for (const state of SESSION_STATES) this.set({ state }, (source?.state ?? 'NEW') === state ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}capacity_tasks`,
    help: 'Dispatches this worker runs at once (concurrency_max_parallel); in-flight divided by this is its saturation.',
    registers: [registry],
    collect() {
      this.set(source?.settings.concurrency_max_parallel ?? 0);
    },
  });
  const duration = new Histogram({
    name: `${PREFIX}task_duration_seconds`,
    help: 'Handler run time of answered dispatches, by node type and outcome (status or error code).',
    labelNames: ['node_type', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const started = new Counter({
    name: `${PREFIX}tasks_started_total`,
    help: 'Dispatches whose handler started, by node type.',
    labelNames: ['node_type'],
    registers: [registry],
  });
  new Gauge({
    name: `${PREFIX}inflight_tasks`,
    help: 'Dispatches admitted and not yet answered.',
    registers: [registry],
    collect() {
      this.set(source?.inflight ?? 0);
    },
  });
  new Gauge({
    name: `${PREFIX}queue_depth`,
    help: 'Items waiting in each internal queue.',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      const stats = source?.session.stats;
      this.set({ queue: 'transport' }, stats?.transportQueueDepth ?? 0);
      this.set({ queue: 'app' }, stats?.appQueueDepth ?? 0);
      this.set({ queue: 'outbox' }, stats?.outboxDepth ?? 0);
      this.set({ queue: 'unacked' }, stats?.unacked ?? 0);
      this.set({ queue: 'dispatch' }, source?.router.queued ?? 0);
    },
  });
  // Counters mirror monotonic totals kept by the session and router.
  const mirror = (name: string, help: string, read: (s: MetricsSource) => number): void => {
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(source ? read(source) : 0);
      },
    });
  };
  mirror('heartbeat_sent_total', 'Heartbeats sent.', (s) => s.session.stats.heartbeatsSent);
  mirror('frames_in_total', 'Valid frames received.', (s) => s.session.stats.framesIn);
  mirror('frames_out_total', 'Frames sent, retransmissions included.', (s) => s.session.stats.framesOut);
  mirror('invalid_frames_total', 'Inbound frames dropped as invalid or oversized.', (s) => s.session.stats.invalidFramesIn);
  mirror(
    'duplicate_frames_total',
    'Inbound frames dropped as duplicates or beyond the window.',
    (s) => s.session.stats.duplicateFramesIn,
  );
  mirror('retransmissions_total', 'Unacked frames sent again.', (s) => s.session.stats.retransmissions);
  mirror('reconnects_total', 'Reconnection attempts.', (s) => s.session.stats.reconnects);
  new Gauge({
    name: `${PREFIX}overloaded`,
    help: '1 while the worker refuses new tasks because of its own load (event-loop delay or heap use), else 0.',
    registers: [registry],
    collect() {
      this.set(source?.load?.overloaded === true ? 1 : 0);
    },
  });
  new Gauge({
    name: `${PREFIX}event_loop_delay_seconds`,
    help: '99th percentile of the event-loop delay over the last load sample.',
    registers: [registry],
    collect() {
      this.set((source?.load?.last.eventLoopDelayMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: `${PREFIX}heap_used_ratio`,
    help: 'Heap in use as a fraction of the V8 heap limit, at the last load sample.',
    registers: [registry],
    collect() {
      this.set((source?.load?.last.heapUsedPct ?? 0) / 100);
    },
  });
  new Gauge({
    name: `${PREFIX}overrunning_handlers`,
    help: 'Handlers answered (timeout, cancellation) whose code is still running; each keeps its slot.',
    registers: [registry],
    collect() {
      this.set(source?.dispatchStats?.overrunning ?? 0);
    },
  });
  mirror(
    'overloaded_refusals_total',
    'Dispatches refused as overloaded (worker load or queue wait).',
    (s) => s.dispatchStats?.refusedOverloaded ?? 0,
  );
  mirror(
    'handler_overruns_total',
    'Handlers that ran on after their timeout or cancellation answer.',
    (s) => s.dispatchStats?.overruns ?? 0,
  );
  const outboxGauge = (name: string, help: string, read: (s: DurableOutboxStats) => number): void => {
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers: [registry],
      collect() {
        const stats = source?.outbox?.stats;
        this.set(stats ? read(stats) : 0);
      },
    });
  };
  outboxGauge(
    'outbox_records',
    'Records in the durable outbox: answers not yet acked plus dispatches not yet answered.',
    (s) => s.depth,
  );
  outboxGauge('outbox_bytes', 'Bytes of live records in the durable outbox.', (s) => s.bytes);
  outboxGauge(
    'outbox_oldest_unacked_age_seconds',
    'Age of the oldest record in the durable outbox; 0 when empty.',
    (s) => s.oldestAgeSeconds,
  );
  new Counter({
    name: `${PREFIX}outbox_replays_total`,
    help: 'Work reconciled at start: answers sent again (kind answer), unfinished dispatches answered E.RUNNER.CANCELLED (kind worker_restart).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = source?.outbox?.stats;
      this.inc({ kind: 'answer' }, stats?.replayedAnswers ?? 0);
      this.inc({ kind: 'worker_restart' }, stats?.cancelledAtStart ?? 0);
    },
  });
  mirror(
    'outbox_write_failures_total',
    'Outbox writes refused by the store (full, or a disk error such as ENOSPC or EIO).',
    (s) => s.outbox?.stats.writeFailures ?? 0,
  );
  mirror(
    'outbox_refused_dispatches_total',
    'Dispatches refused as overloaded because the outbox could not record them.',
    (s) => s.outbox?.stats.refusedDispatches ?? 0,
  );
  new Counter({
    name: `${PREFIX}dropped_frames_total`,
    help: 'Frames dropped by a queue overflow policy (or at shutdown), by queue.',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      this.reset();
      if (!source) return;
      this.inc({ queue: 'transport' }, source.session.stats.transportQueueDrops);
      this.inc({ queue: 'app' }, source.session.stats.appQueueDrops);
      for (const [reason, count] of Object.entries(source.router.stats.dropped)) {
        this.inc({ queue: `dispatch_${reason}` }, count);
      }
    },
  });

  return {
    registry,
    contentType: registry.contentType,
    bind(next) {
      source = next;
    },
    render: () => registry.metrics(),
    taskStarted(nodeType) {
      started.inc({ node_type: nodeTypeLabel(nodeType) });
    },
    taskFinished(nodeType, durationMs, outcome) {
      duration.observe({ node_type: nodeTypeLabel(nodeType), outcome: outcomeLabel(outcome) }, durationMs / 1000);
    },
  };
}
