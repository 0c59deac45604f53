import { dirname, join } from 'node:path';
import type { Settings } from '@astraflow/config';
import { clampTimerMs, type ExecMode } from '@astraflow/protocol';
import type { FsyncPolicy } from '@astraflow/outbox';
import type { ExecDispatchConfig } from './dispatch/exec-dispatch-handler.js';
import type { CooldownConfig } from './dispatch/failure-cooldown.js';
import type { RouterConfig } from './dispatch/router.js';
import type { LoadMonitorOptions } from './load/load-monitor.js';
import { compileSessionConfig, type CompiledSessionConfig } from './session/session-config.js';

/**
 * Every component's options, compiled once from {@link Settings} by
 * {@link compileWorkerOptions}: camelCase, milliseconds, timers clamped
 * (`clampTimerMs`), and each concept computed in one place (the task
 * timeout, the cooldown, the grace period). Components take their own
 * part, never `Settings`. docs/architecture.md lists where each is applied.
 */
export interface WorkerOptions {
  session: CompiledSessionConfig;
  router: RouterConfig;
  dispatch: ExecDispatchConfig;
  /** What `control.register` advertises besides the inventory. */
  registration: {
    maxParallel: number;
    perNodeLimits: Readonly<Record<string, number>> | undefined;
    runtimes: string[];
    features: string[];
    /** Explicit `payload_types`; default the types the route table handles. */
    payloadTypes: string[] | undefined;
  };
  packages: {
    packagesDir: string;
    runtimes: string[];
    requireSha256: boolean;
    downloadTimeoutMs: number;
    maxDownloadBytes: number;
    maxExtractedBytes: number;
    maxEntries: number;
    /** How long the isolated import probe of a package may take. */
    importTimeoutMs: number;
    /** How long unpacking an archive (in its own thread) may take. */
    extractTimeoutMs: number;
    /** Answer an uninstall with its own `uninstalled` event. */
    uninstallEvent: boolean;
  };
  runner: {
    dataDir: string;
    workerName: string;
    defaultExecMode: ExecMode;
    threads: { minThreads: number; maxThreads: number; idleTimeoutMs: number };
  };
  /** Task folders left by earlier runs are swept at start; the retention is compared with file times, not a timer. */
  taskData: { dataDir: string; retentionMs: number };
  load: Omit<LoadMonitorOptions, 'logger' | 'sampler'>;
  /** Undefined when `outbox_enabled` is off. */
  outbox: { dir: string; fsync: FsyncPolicy; maxBytes: number } | undefined;
  /** Undefined when `http_enabled` is off. */
  health: { host: string; port: number } | undefined;
  /** The WebSocket transport (unless one is passed to `setup()`). */
  transport: {
    url: string;
    token: string | undefined;
    maxFrameBytes: number;
    pingIntervalMs: number;
    /** Only the files that are configured. */
    tlsFiles: { caFile?: string; certFile?: string; keyFile?: string };
    rejectUnauthorized: boolean;
  };
  /** How long in-flight tasks may run on after a stop before they are cancelled. */
  shutdownGraceMs: number;
}

/** The cooldown after consecutive handler failures (compared with the clock, not a timer), shared by the router (per type) and the dispatch handler (per node type). */
function compileCooldown(
  settings: Pick<Settings, 'handler_dispatch_max_failures' | 'handler_dispatch_failure_cooldown_seconds'>,
): CooldownConfig {
  return { maxFailures: settings.handler_dispatch_max_failures, ms: settings.handler_dispatch_failure_cooldown_seconds * 1000 };
}

/** `handler_dispatch_timeout_seconds` in ms, clamped: the one task timeout the router and the dispatch handler both apply. */
function compileTaskTimeout(settings: Pick<Settings, 'handler_dispatch_timeout_seconds'>): number {
  return clampTimerMs(settings.handler_dispatch_timeout_seconds * 1000);
}

/** The router's part of {@link compileWorkerOptions} (tests build routers from partial settings with it). */
export function compileRouterConfig(
  settings: Pick<
    Settings,
    | 'handler_dispatch_max_inflight'
    | 'handler_dispatch_queue_max'
    | 'handler_dispatch_queue_overflow'
    | 'handler_dispatch_queue_idle_seconds'
    | 'handler_dispatch_timeout_seconds'
    | 'handler_dispatch_max_failures'
    | 'handler_dispatch_failure_cooldown_seconds'
  >,
): RouterConfig {
  return {
    maxInflight: settings.handler_dispatch_max_inflight,
    queue: {
      max: settings.handler_dispatch_queue_max,
      policy: settings.handler_dispatch_queue_overflow,
      idleMs: clampTimerMs(settings.handler_dispatch_queue_idle_seconds * 1000),
    },
    taskTimeoutMs: compileTaskTimeout(settings),
    cooldown: compileCooldown(settings),
  };
}

/**
 * Compiles loaded settings into the options of every component (in the
 * spirit of Temporal's worker options): done once, in `setup()`.
 */
export function compileWorkerOptions(settings: Settings): WorkerOptions {
  const limits = settings.concurrency_per_node_limits;
  return {
    session: compileSessionConfig(settings),
    router: compileRouterConfig(settings),
    dispatch: {
      tenant: settings.tenant,
      taskTimeoutMs: compileTaskTimeout(settings),
      cooldown: compileCooldown(settings),
      perNodeLimits: { ...(limits ?? {}) },
      maxQueueWaitMs: clampTimerMs(settings.handler_dispatch_max_queue_wait_seconds * 1000),
    },
    registration: {
      maxParallel: settings.concurrency_max_parallel,
      perNodeLimits: limits && Object.keys(limits).length > 0 ? { ...limits } : undefined,
      runtimes: [...settings.runtime_names],
      features: [...settings.feature_flags],
      payloadTypes: settings.payload_types ? [...settings.payload_types] : undefined,
    },
    packages: {
      packagesDir: settings.packages_dir,
      runtimes: [...settings.runtime_names],
      requireSha256: settings.package_require_sha256,
      downloadTimeoutMs: clampTimerMs(settings.package_download_timeout_seconds * 1000),
      maxDownloadBytes: settings.package_max_download_bytes,
      maxExtractedBytes: settings.package_max_extracted_bytes,
      maxEntries: settings.package_max_entries,
      importTimeoutMs: clampTimerMs(settings.package_import_timeout_seconds * 1000),
      extractTimeoutMs: clampTimerMs(settings.package_extract_timeout_seconds * 1000),
      uninstallEvent: settings.package_uninstall_event,
    },
    runner: {
      dataDir: settings.data_dir,
      workerName: settings.worker_name,
      defaultExecMode: settings.handler_exec_mode_default,
      threads: {
        minThreads: settings.thread_pool_min_threads,
        maxThreads: settings.thread_pool_max_threads,
        idleTimeoutMs: clampTimerMs(settings.thread_pool_idle_timeout_seconds * 1000),
      },
    },
    taskData: { dataDir: settings.data_dir, retentionMs: settings.task_data_retention_seconds * 1000 },
    load: {
      intervalMs: clampTimerMs(settings.load_sample_interval_seconds * 1000),
      maxEventLoopDelayMs: settings.load_event_loop_delay_max_ms,
      maxHeapUsedPct: settings.load_heap_used_max_pct,
      recoverPct: settings.load_recover_pct,
    },
    outbox: settings.outbox_enabled
      ? {
          dir: settings.outbox_dir ?? join(dirname(settings.data_dir), 'outbox'),
          fsync: settings.outbox_fsync,
          maxBytes: settings.outbox_max_bytes,
        }
      : undefined,
    health: settings.http_enabled ? { host: settings.http_host, port: settings.http_port } : undefined,
    transport: {
      url: settings.scheduler_ws_url,
      token: settings.auth_token,
      maxFrameBytes: settings.max_frame_bytes,
      pingIntervalMs: clampTimerMs(settings.ws_ping_interval_seconds * 1000),
      tlsFiles: {
        ...(settings.tls_ca_file ? { caFile: settings.tls_ca_file } : {}),
        ...(settings.tls_cert_file ? { certFile: settings.tls_cert_file } : {}),
        ...(settings.tls_key_file ? { keyFile: settings.tls_key_file } : {}),
      },
      rejectUnauthorized: settings.tls_reject_unauthorized,
    },
    shutdownGraceMs: clampTimerMs(settings.shutdown_grace_seconds * 1000),
  };
}
