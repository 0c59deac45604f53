import type { ExecMode, LogLevel, OverflowPolicy } from '@astraflow/protocol';

/** How the worker authenticates its handshake (docs/protocol.md §3). */
export type AuthMode = 'token' | 'mtls';

/** Which control-plane transport the worker uses. */
export type TransportName = 'websocket' | 'dummy';

/** What a full queue does with one more item. */
export type QueueOverflowPolicy = OverflowPolicy;

/** Where a handler runs when neither its node nor its adapter says (README, "The handler contract"). */
export type HandlerExecModeDefault = ExecMode;

/**
 * The worker's validated settings, as {@link loadSettings} returns them
 * (frozen). Field names are the snake_case names of the settings table (README, "Settings");
 * each one is also read from `ASTRA_WORKER_<NAME>`. Path fields are absolute.
 * `settingFields` describes every field (type, default, meaning).
 */
export interface Settings {
  /** WebSocket endpoint of the scheduler (`ws://` or `wss://`). */
  readonly scheduler_ws_url: string;
  /** Base URL of the scheduler's REST API (`http://` or `https://`). */
  readonly scheduler_rest_base_url: string;
  /** Tenant this worker serves. */
  readonly tenant: string;
  /** Human-readable worker name (display only). */
  readonly worker_name: string;
  /** Persisted worker identity; undefined until the scheduler assigns one. */
  readonly worker_instance_id: string | undefined;
  /** Token for `auth_mode: token`. Secret: never log it (see `redactSettings`). */
  readonly auth_token: string | undefined;
  /** Handshake authentication mode. */
  readonly auth_mode: AuthMode;
  /** Client certificate fingerprint sent with `auth_mode: mtls`. */
  readonly auth_fingerprint: string | undefined;
  /** Version reported in the handshake. */
  readonly worker_version: string;
  /** Protocol version requested in the handshake. */
  readonly handshake_protocol_version: number;
  /** Control-plane transport. */
  readonly transport: TransportName;
  /** Seconds between heartbeats. */
  readonly heartbeat_interval_seconds: number;
  /** Upper bound of the random delay added to each heartbeat interval. */
  readonly heartbeat_jitter_seconds: number;
  /** First retransmission delay of an unacked frame, in ms. */
  readonly ack_retry_base_ms: number;
  /** Cap of the retransmission delay, in ms. */
  readonly ack_retry_max_ms: number;
  /** Most retransmissions of one unacked frame. */
  readonly ack_retry_attempts: number;
  /** How long to wait for `control.session.accept`. */
  readonly session_accept_timeout_seconds: number;
  /** Sliding-window size, both directions. */
  readonly session_window_size: number;
  /** Seconds the receive window may wait for one missing frame before the session is reset; 0 = never. */
  readonly session_recv_stall_seconds: number;
  /** First reconnect delay. */
  readonly reconnect_base_delay_seconds: number;
  /** Cap of the reconnect delay. */
  readonly reconnect_max_delay_seconds: number;
  /** Relative jitter of the reconnect delay, 0..1. */
  readonly reconnect_jitter: number;
  /** Stop reconnecting (and exit non-zero) after an authentication failure. */
  readonly reconnect_abort_on_auth_error: boolean;
  /** Stop reconnecting (and exit non-zero) after a protocol failure. */
  readonly reconnect_abort_on_protocol_error: boolean;
  /** Inbound transport queue bound; 0 = unbounded. */
  readonly transport_recv_queue_max: number;
  /** Session-to-application queue bound; 0 = unbounded. */
  readonly session_app_queue_max: number;
  /** What a full application queue does. */
  readonly session_app_queue_overflow: QueueOverflowPolicy;
  /** Most handler invocations running at once; 0 = one at a time. */
  readonly handler_dispatch_max_inflight: number;
  /** Per-message-type dispatch queue bound; 0 = unbounded. */
  readonly handler_dispatch_queue_max: number;
  /** What a full per-type dispatch queue does. */
  readonly handler_dispatch_queue_overflow: QueueOverflowPolicy;
  /** Seconds after which an idle per-type queue is retired; 0 = never. */
  readonly handler_dispatch_queue_idle_seconds: number;
  /** Timeout of one handler invocation in seconds; 0 = none. */
  readonly handler_dispatch_timeout_seconds: number;
  /** Consecutive failures of one handler that start a cooldown; 0 = never. */
  readonly handler_dispatch_max_failures: number;
  /** Length of that cooldown in seconds. */
  readonly handler_dispatch_failure_cooldown_seconds: number;
  /** Execution mode when neither node nor adapter sets one. */
  readonly handler_exec_mode_default: HandlerExecModeDefault;
  /** Longest wait inside the worker before a handler starts, in seconds; 0 = no limit. */
  readonly handler_dispatch_max_queue_wait_seconds: number;
  /** Threads kept warm once a package with thread handlers is loaded. */
  readonly thread_pool_min_threads: number;
  /** Most worker threads at once. */
  readonly thread_pool_max_threads: number;
  /** Seconds an idle thread above the minimum lives. */
  readonly thread_pool_idle_timeout_seconds: number;
  /** Seconds between load samples (event-loop delay, heap use). */
  readonly load_sample_interval_seconds: number;
  /** p99 event-loop delay in ms that makes the worker overloaded; 0 = off. */
  readonly load_event_loop_delay_max_ms: number;
  /** Heap use in % of the heap limit that makes the worker overloaded; 0 = off. */
  readonly load_heap_used_max_pct: number;
  /** % of each threshold the load must fall below to recover. */
  readonly load_recover_pct: number;
  /** Parallel tasks advertised in `control.register`. */
  readonly concurrency_max_parallel: number;
  /** Running-task cap per node type, enforced locally and advertised. */
  readonly concurrency_per_node_limits: Readonly<Record<string, number>> | undefined;
  /** Runtimes advertised in `control.register`. */
  readonly runtime_names: readonly string[];
  /** Feature flags advertised in `control.register`. */
  readonly feature_flags: readonly string[];
  /** Payload types advertised; undefined = derived from the installed handlers. */
  readonly payload_types: readonly string[] | undefined;
  /** Absolute folder of installed packages. */
  readonly packages_dir: string;
  /** Absolute folder of per-task data (`<data_dir>/<run_id>/<task_id>`). */
  readonly data_dir: string;
  /** Log level, as pino names it. */
  readonly log_level: LogLevel;
  /** Inbound frames larger than this many bytes are dropped. */
  readonly max_frame_bytes: number;
  /** Largest frame the worker sends; bigger answers become `E.RUNNER.FAILURE`, bigger feedback is dropped. */
  readonly max_outbound_frame_bytes: number;
  /** Seconds a task data folder kept by its handler survives; removed by the start-up sweep. */
  readonly task_data_retention_seconds: number;
  /** Seconds between WebSocket pings; 0 = off. */
  readonly ws_ping_interval_seconds: number;
  /** Absolute path of a CA bundle for `wss://`. */
  readonly tls_ca_file: string | undefined;
  /** Absolute path of the client certificate (mTLS). */
  readonly tls_cert_file: string | undefined;
  /** Absolute path of the client key (mTLS). */
  readonly tls_key_file: string | undefined;
  /** Verify the scheduler's TLS certificate. */
  readonly tls_reject_unauthorized: boolean;
  /** Absolute path where `worker_instance_id` is persisted; undefined = `<dirname(data_dir)>/worker_instance_id`. */
  readonly worker_instance_id_file: string | undefined;
  /** Require a sha256 for packages installed from http(s) URLs. */
  readonly package_require_sha256: boolean;
  /** Send `biz.pkg.event` status `uninstalled` after an uninstall (off: the re-register reports it, docs/protocol.md §6). */
  readonly package_uninstall_event: boolean;
  /** Timeout of one package download, in seconds. */
  readonly package_download_timeout_seconds: number;
  /** Largest package archive accepted, in bytes. */
  readonly package_max_download_bytes: number;
  /** Largest total extracted size of one package, in bytes. */
  readonly package_max_extracted_bytes: number;
  /** Most archive entries in one package. */
  readonly package_max_entries: number;
  /** Time limit of importing a package's modules (probe process and activation), in seconds. */
  readonly package_import_timeout_seconds: number;
  /** Time limit of unpacking one package archive, in seconds. */
  readonly package_extract_timeout_seconds: number;
  /** Run the event-loop watchdog. */
  readonly watchdog_enabled: boolean;
  /** Longest the main event loop may stay blocked, in seconds; 0 = 3 × (heartbeat interval + jitter), at least 5. */
  readonly watchdog_timeout_seconds: number;
  /** Seconds SIGTERM waits for in-flight tasks before exiting. */
  readonly shutdown_grace_seconds: number;
  /** Persist answers until acked and reconcile them on start. */
  readonly outbox_enabled: boolean;
  /** Absolute folder of the outbox journal; undefined = `<dirname(data_dir)>/outbox`. */
  readonly outbox_dir: string | undefined;
  /** When outbox writes are flushed to disk. */
  readonly outbox_fsync: 'always' | 'batch' | 'off';
  /** Most bytes of live outbox records. */
  readonly outbox_max_bytes: number;
  /** Serve the health/metrics HTTP endpoint. */
  readonly http_enabled: boolean;
  /** Interface of the health/metrics endpoint. */
  readonly http_host: string;
  /** Port of the health/metrics endpoint; 0 = ephemeral. */
  readonly http_port: number;
}
