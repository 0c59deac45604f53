import { dirname, join } from 'node:path';
import type { Settings } from '@astraflow/config';
import { clampTimerMs } from '@astraflow/protocol';

/** The settings the session layer reads; a full `Settings` object satisfies it. */
export type SessionConfig = Pick<
  Settings,
  | 'tenant'
  | 'worker_name'
  | 'worker_instance_id'
  | 'worker_instance_id_file'
  | 'worker_version'
  | 'auth_mode'
  | 'auth_token'
  | 'auth_fingerprint'
  | 'handshake_protocol_version'
  | 'heartbeat_interval_seconds'
  | 'heartbeat_jitter_seconds'
  | 'ack_retry_base_ms'
  | 'ack_retry_max_ms'
  | 'ack_retry_attempts'
  | 'session_accept_timeout_seconds'
  | 'session_window_size'
  | 'reconnect_base_delay_seconds'
  | 'reconnect_max_delay_seconds'
  | 'reconnect_jitter'
  | 'reconnect_abort_on_auth_error'
  | 'reconnect_abort_on_protocol_error'
  | 'transport_recv_queue_max'
  | 'session_app_queue_max'
  | 'session_app_queue_overflow'
  | 'max_frame_bytes'
  | 'max_outbound_frame_bytes'
  | 'session_recv_stall_seconds'
  | 'data_dir'
>;

/**
 * {@link SessionConfig} compiled once, at construction: camelCase, timers
 * in milliseconds and clamped (`clampTimerMs`), so the session's parts
 * never convert units at their use sites.
 */
export interface CompiledSessionConfig {
  tenant: string;
  workerName: string;
  /** Configured identity; when set, one adopted from an accept is not persisted. */
  workerInstanceId: string | undefined;
  /** Where the adopted identity is persisted. */
  instanceIdFile: string;
  dataDir: string;
  acceptTimeoutMs: number;
  windowSize: number;
  heartbeat: { intervalSeconds: number; jitterSeconds: number };
  retransmit: { baseMs: number; maxMs: number; attempts: number };
  reconnect: {
    baseSeconds: number;
    maxSeconds: number;
    jitter: number;
    abortOnAuthError: boolean;
    abortOnProtocolError: boolean;
  };
  transportQueueMax: number;
  appQueue: { max: number; policy: Settings['session_app_queue_overflow'] };
  maxFrameBytes: number;
  maxOutboundFrameBytes: number;
  recvStallMs: number;
  /** What the handshake says about this worker and how it authenticates. */
  handshake: {
    protocol: Settings['handshake_protocol_version'];
    workerVersion: string;
    auth: { mode: 'mtls'; fingerprint: string | null } | { mode: 'token'; token: string | null };
  };
  /** Never to reach a log line (the session token joins it at run time). */
  authToken: string | undefined;
}

/** Compiles {@link SessionConfig} into {@link CompiledSessionConfig}. */
export function compileSessionConfig(config: SessionConfig): CompiledSessionConfig {
  return {
    tenant: config.tenant,
    workerName: config.worker_name,
    workerInstanceId: config.worker_instance_id,
    instanceIdFile: config.worker_instance_id_file ?? join(dirname(config.data_dir), 'worker_instance_id'),
    dataDir: config.data_dir,
    acceptTimeoutMs: clampTimerMs(config.session_accept_timeout_seconds * 1000),
    windowSize: config.session_window_size,
    heartbeat: { intervalSeconds: config.heartbeat_interval_seconds, jitterSeconds: config.heartbeat_jitter_seconds },
    retransmit: { baseMs: config.ack_retry_base_ms, maxMs: config.ack_retry_max_ms, attempts: config.ack_retry_attempts },
    reconnect: {
      baseSeconds: config.reconnect_base_delay_seconds,
      maxSeconds: config.reconnect_max_delay_seconds,
      jitter: config.reconnect_jitter,
      abortOnAuthError: config.reconnect_abort_on_auth_error,
      abortOnProtocolError: config.reconnect_abort_on_protocol_error,
    },
    transportQueueMax: config.transport_recv_queue_max,
    appQueue: { max: config.session_app_queue_max, policy: config.session_app_queue_overflow },
    maxFrameBytes: config.max_frame_bytes,
    maxOutboundFrameBytes: config.max_outbound_frame_bytes,
    recvStallMs: clampTimerMs(config.session_recv_stall_seconds * 1000),
    handshake: {
      protocol: config.handshake_protocol_version,
      workerVersion: config.worker_version,
      auth:
        config.auth_mode === 'mtls'
          ? { mode: 'mtls', fingerprint: config.auth_fingerprint ?? null }
          : { mode: 'token', token: config.auth_token ?? null },
    },
    authToken: config.auth_token,
  };
}
