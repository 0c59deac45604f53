import { EXEC_MODES, OVERFLOW_POLICIES } from '@astraflow/protocol';
import {
  boolean,
  integer,
  logLevel,
  number,
  oneOf,
  optionalIntegerMap,
  optionalPath,
  optionalStringList,
  optionalText,
  path,
  seconds,
  stringList,
  text,
  url,
  type FieldRule,
} from './field-rules.js';
import { availableParallelism } from 'node:os';
import { MAX_TIMER_MS } from '@astraflow/protocol';
import { packageVersion } from './package-version.js';
import type { Settings } from './settings.js';

/** Everything the loader and the docs need to know about one setting. */
export interface SettingDefinition<T> {
  readonly rule: FieldRule<T>;
  /** The default, or a function computing it when it depends on the install. */
  readonly default: T | (() => T);
  /** Human-readable default for docs, when printing the value is not enough. */
  readonly defaultText?: string;
  readonly description: string;
  readonly secret?: boolean;
}

type Definitions = { readonly [K in keyof Settings]: SettingDefinition<Settings[K]> };

const OVERFLOW = OVERFLOW_POLICIES;

/**
 * The single table behind `Settings`, `SettingsSchema`, `settingFields` and
 * the loader. Key order is the documentation order.
 */
export const settingDefinitions: Definitions = {
  scheduler_ws_url: {
    rule: url(['ws', 'wss']),
    default: 'ws://localhost:8080/ws/worker',
    description: 'WebSocket endpoint of the scheduler.',
  },
  scheduler_rest_base_url: {
    rule: url(['http', 'https']),
    default: 'http://localhost:8080/api/v1',
    description: 'Base URL of the scheduler REST API.',
  },
  tenant: { rule: text(), default: 'default', description: 'Tenant this worker serves.' },
  worker_name: { rule: text(), default: 'worker-local', description: 'Worker name shown by the scheduler (display only).' },
  worker_instance_id: {
    rule: optionalText(),
    default: undefined,
    description: 'Persisted worker identity; when unset, the one the scheduler assigns is adopted and persisted.',
  },
  auth_token: {
    rule: optionalText(),
    default: undefined,
    secret: true,
    description: 'Token sent in the handshake with auth_mode token; never logged.',
  },
  auth_mode: { rule: oneOf(['token', 'mtls']), default: 'token', description: 'Handshake authentication mode.' },
  auth_fingerprint: {
    rule: optionalText(),
    default: undefined,
    description: 'Client certificate fingerprint sent in the handshake with auth_mode mtls.',
  },
  worker_version: {
    rule: text(),
    default: packageVersion,
    defaultText: 'the @astraflow/config package version',
    description: 'Worker version reported in the handshake.',
  },
  handshake_protocol_version: { rule: integer(1), default: 1, description: 'Protocol version sent in the handshake.' },
  transport: {
    rule: oneOf(['websocket', 'dummy']),
    default: 'websocket',
    description: 'Control-plane transport; dummy runs offline without a scheduler.',
  },
  heartbeat_interval_seconds: { rule: seconds({ gt: 0 }), default: 30, description: 'Seconds between heartbeats.' },
  heartbeat_jitter_seconds: {
    rule: seconds({ min: 0 }),
    default: 5,
    description: 'Random extra delay, up to this many seconds, added to each heartbeat interval.',
  },
  ack_retry_base_ms: {
    rule: integer(1, MAX_TIMER_MS),
    default: 200,
    description: 'First retransmission delay of an unacked frame, doubled on each retry (ms).',
  },
  ack_retry_max_ms: {
    rule: integer(1, MAX_TIMER_MS),
    default: 5000,
    description: 'Cap of the retransmission delay (ms); must be ≥ ack_retry_base_ms.',
  },
  ack_retry_attempts: {
    rule: integer(0),
    default: 6,
    description: 'Most retransmissions of one unacked frame; 0 = never retransmit.',
  },
  session_accept_timeout_seconds: {
    rule: seconds({ gt: 0 }),
    default: 10,
    description: 'Seconds to wait for control.session.accept before starting over.',
  },
  session_window_size: {
    rule: integer(1),
    default: 64,
    description: 'Sliding-window size: most unacked frames in flight per direction.',
  },
  session_recv_stall_seconds: {
    rule: seconds({ min: 0 }),
    default: 60,
    description:
      'Seconds the receive window may wait for one missing frame before healthy: false and a session reset; 0 = never.',
  },
  reconnect_base_delay_seconds: {
    rule: seconds({ gt: 0 }),
    default: 1,
    description: 'First reconnect delay, doubled per failed attempt (seconds).',
  },
  reconnect_max_delay_seconds: {
    rule: seconds({ gt: 0 }),
    default: 30,
    description: 'Cap of the reconnect delay (seconds); must be ≥ reconnect_base_delay_seconds.',
  },
  reconnect_jitter: {
    rule: number({ min: 0, max: 1 }),
    default: 0.2,
    description: 'Relative jitter applied to each reconnect delay.',
  },
  reconnect_abort_on_auth_error: {
    rule: boolean(),
    default: false,
    description: 'Stop reconnecting and exit non-zero after an authentication failure.',
  },
  reconnect_abort_on_protocol_error: {
    rule: boolean(),
    default: false,
    description: 'Stop reconnecting and exit non-zero after a protocol failure.',
  },
  transport_recv_queue_max: {
    rule: integer(0),
    default: 0,
    description: 'Bound of the inbound transport queue; 0 = unbounded.',
  },
  session_app_queue_max: {
    rule: integer(0),
    default: 1024,
    description: 'Bound of the session-to-application queue; 0 = unbounded.',
  },
  session_app_queue_overflow: {
    rule: oneOf(OVERFLOW),
    default: 'block',
    description: 'What a full application queue does with one more frame.',
  },
  handler_dispatch_max_inflight: {
    rule: integer(0),
    default: 8,
    description: 'Most handler invocations running at once; 0 = one at a time.',
  },
  handler_dispatch_queue_max: {
    rule: integer(0),
    default: 256,
    description: 'Bound of each per-message-type dispatch queue; 0 = unbounded.',
  },
  handler_dispatch_queue_overflow: {
    rule: oneOf(OVERFLOW),
    default: 'block',
    description: 'What a full per-type dispatch queue does with one more frame.',
  },
  handler_dispatch_queue_idle_seconds: {
    rule: seconds({ min: 0 }),
    default: 300,
    description: 'Idle seconds after which a per-type dispatch queue is retired; 0 = never.',
  },
  handler_dispatch_timeout_seconds: {
    rule: seconds({ min: 0 }),
    default: 0,
    description: 'Timeout of one handler invocation in seconds; 0 = none.',
  },
  handler_dispatch_max_failures: {
    rule: integer(0),
    default: 0,
    description: 'Consecutive failures of one handler that start a cooldown; 0 = never.',
  },
  handler_dispatch_failure_cooldown_seconds: {
    rule: seconds({ min: 0 }),
    default: 0,
    description: 'Seconds a handler is refused after reaching handler_dispatch_max_failures.',
  },
  handler_exec_mode_default: {
    rule: oneOf(EXEC_MODES),
    default: 'auto',
    description: 'Execution mode when neither node nor adapter sets one (auto: async inline, sync in a thread).',
  },
  handler_dispatch_max_queue_wait_seconds: {
    rule: number({ min: 0, max: 86_400 }),
    default: 60,
    description:
      'Longest a dispatch may wait inside the worker before its handler starts; then refused as overloaded; 0 = no limit.',
  },
  thread_pool_min_threads: {
    rule: integer(0, 1024),
    default: 1,
    description: 'Threads started and kept warm once a package with thread handlers is loaded; 0 = start on demand.',
  },
  thread_pool_max_threads: {
    rule: integer(1, 1024),
    default: () => Math.max(1, availableParallelism()),
    defaultText: 'the number of CPU cores',
    description: 'Most worker threads running thread-mode handlers at once; must be ≥ thread_pool_min_threads.',
  },
  thread_pool_idle_timeout_seconds: {
    rule: number({ min: 0, max: 86_400 }),
    default: 30,
    description: 'Seconds an idle thread above thread_pool_min_threads lives before it is retired.',
  },
  load_sample_interval_seconds: {
    rule: number({ min: 0.01, max: 60 }),
    default: 1,
    description: 'How often event-loop delay and heap use are sampled for admission by load (seconds).',
  },
  load_event_loop_delay_max_ms: {
    rule: number({ min: 0, max: 600_000 }),
    default: 1000,
    description: 'p99 event-loop delay (ms) above which the worker is overloaded and refuses new tasks; 0 = off.',
  },
  load_heap_used_max_pct: {
    rule: number({ min: 0, max: 100 }),
    default: 90,
    description: 'Heap use, in % of the heap limit, above which the worker is overloaded and refuses new tasks; 0 = off.',
  },
  load_recover_pct: {
    rule: number({ min: 1, max: 100 }),
    default: 70,
    description: 'An overloaded worker recovers once every load figure is below this % of its threshold (hysteresis).',
  },
  concurrency_max_parallel: {
    rule: integer(1),
    default: 1,
    description: 'Parallel tasks advertised in control.register.',
  },
  concurrency_per_node_limits: {
    rule: optionalIntegerMap(1),
    default: undefined,
    description: 'Running-task cap per node type, enforced locally and advertised.',
  },
  runtime_names: {
    rule: stringList(1),
    default: ['node'],
    description: 'Runtimes advertised in control.register.',
  },
  feature_flags: { rule: stringList(), default: [], description: 'Feature flags advertised in control.register.' },
  payload_types: {
    rule: optionalStringList(),
    default: undefined,
    defaultText: 'every payload type the worker handles',
    description: 'Payload types advertised in control.register; unset = derived from the handlers.',
  },
  packages_dir: {
    rule: path(),
    default: './node-packages',
    description: 'Folder of installed packages, made absolute; ASTRA_PACKAGES_ROOT is also read.',
  },
  data_dir: {
    rule: path(),
    default: './var/data',
    description: 'Folder of per-task data (<data_dir>/<run_id>/<task_id>), made absolute.',
  },
  task_data_retention_seconds: {
    rule: seconds({ min: 0 }),
    default: 86_400,
    description:
      'Seconds a task folder kept by ctx.keepDataDir() survives (the start-up sweep removes it); others go when the task ends.',
  },
  log_level: {
    rule: logLevel(),
    default: 'info',
    defaultText: 'INFO',
    description: 'Log level; DEBUG traces every frame, retry, ack and routing decision.',
  },
  max_frame_bytes: {
    rule: integer(1024),
    default: 16_777_216,
    description: 'Inbound frames larger than this many bytes are refused (acked and, for commands, answered).',
  },
  max_outbound_frame_bytes: {
    rule: integer(65_536, 33_554_432),
    default: 16_777_216,
    description:
      "Largest frame sent (scheduler limit 32 MiB): a bigger answer becomes E.RUNNER.FAILURE 'result too large', bigger feedback is dropped.",
  },
  ws_ping_interval_seconds: {
    rule: seconds({ min: 0 }),
    default: 20,
    description: 'WebSocket ping cadence; the peer is dead without a pong before the next ping; 0 = off.',
  },
  tls_ca_file: {
    rule: optionalPath(),
    default: undefined,
    description: 'CA bundle (PEM) trusted for wss://, made absolute.',
  },
  tls_cert_file: {
    rule: optionalPath(),
    default: undefined,
    description: 'Client certificate (PEM) for mTLS, made absolute; needs tls_key_file.',
  },
  tls_key_file: {
    rule: optionalPath(),
    default: undefined,
    description: 'Client private key (PEM) for mTLS, made absolute; needs tls_cert_file.',
  },
  tls_reject_unauthorized: {
    rule: boolean(),
    default: true,
    description: "Verify the scheduler's TLS certificate.",
  },
  worker_instance_id_file: {
    rule: optionalPath(),
    default: undefined,
    defaultText: '<dirname(data_dir)>/worker_instance_id',
    description: 'File where worker_instance_id is persisted, made absolute.',
  },
  package_require_sha256: {
    rule: boolean(),
    default: true,
    description: 'Refuse http/https package URLs without a sha256.',
  },
  package_uninstall_event: {
    rule: boolean(),
    default: false,
    description:
      'Also answer an uninstall with biz.pkg.event status uninstalled; only for schedulers that accept it (the existing one logs an error).',
  },
  package_download_timeout_seconds: {
    rule: seconds({ gt: 0 }),
    default: 60,
    description: 'Timeout of one package download (seconds).',
  },
  package_max_download_bytes: {
    rule: integer(1),
    default: 268_435_456,
    description: 'Largest package archive accepted (bytes).',
  },
  package_max_extracted_bytes: {
    rule: integer(1),
    default: 1_073_741_824,
    description: 'Largest total extracted size of one package (bytes).',
  },
  package_max_entries: {
    rule: integer(1),
    default: 10_000,
    description: 'Most archive entries in one package.',
  },
  package_import_timeout_seconds: {
    rule: number({ min: 0.1, max: 600 }),
    default: 30,
    description: "Time limit of importing a package's modules, in the isolated probe process and again when activated (seconds).",
  },
  package_extract_timeout_seconds: {
    rule: number({ min: 0.1, max: 3600 }),
    default: 120,
    description: 'Time limit of unpacking one package archive, done in a worker thread (seconds).',
  },
  watchdog_enabled: {
    rule: boolean(),
    default: true,
    description: 'End the process (exit code 70) when the main event loop stays blocked longer than watchdog_timeout_seconds.',
  },
  watchdog_timeout_seconds: {
    rule: number({ min: 0, max: 3600 }),
    default: 0,
    defaultText: '0 (= 3 × (heartbeat_interval_seconds + heartbeat_jitter_seconds), at least 5)',
    description:
      'Longest the main event loop may stay blocked before the watchdog ends the process; 0 = derived from the heartbeat.',
  },
  shutdown_grace_seconds: {
    rule: seconds({ min: 0 }),
    default: 30,
    description: 'Seconds SIGTERM/SIGINT waits for in-flight tasks before exiting.',
  },
  outbox_enabled: {
    rule: boolean(),
    default: true,
    description: 'Keep every answer in a crash-safe local outbox until the scheduler acks it, and reconcile it on start.',
  },
  outbox_dir: {
    rule: optionalPath(),
    default: undefined,
    defaultText: '<dirname(data_dir)>/outbox',
    description: 'Folder of the outbox journal, made absolute; one worker per folder.',
  },
  outbox_fsync: {
    rule: oneOf(['always', 'batch', 'off'] as const),
    default: 'batch',
    description:
      'When outbox writes reach the disk: always (one fsync per write), batch (group commit within a few ms), off (OS cache only).',
  },
  outbox_max_bytes: {
    rule: integer(65_536, 17_179_869_184),
    default: 268_435_456,
    description: 'Most bytes of live outbox records; when full, new dispatches are refused as overloaded.',
  },
  http_enabled: { rule: boolean(), default: false, description: 'Serve the health/metrics HTTP endpoint.' },
  http_host: { rule: text(), default: '127.0.0.1', description: 'Interface the health/metrics endpoint listens on.' },
  http_port: {
    rule: integer(0, 65535),
    default: 9464,
    description: 'Port of the health/metrics endpoint; 0 = ephemeral.',
  },
};

/** Setting names in documentation order. */
export const settingNames = Object.keys(settingDefinitions) as readonly (keyof Settings)[];

/** True when `name` is a setting (own key of the table, so `__proto__` and friends are not). */
export function isSettingName(name: string): name is keyof Settings {
  return Object.hasOwn(settingDefinitions, name);
}

/** The default of one setting, computed when it depends on the install. */
export function defaultOf<K extends keyof Settings>(name: K): Settings[K] {
  const value = settingDefinitions[name].default;
  return typeof value === 'function' ? (value as () => Settings[K])() : value;
}
