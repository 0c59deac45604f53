import type { OverflowPolicy } from '../queue/bounded-queue.js';

/**
 * The settings the session layer reads, named as in WORKER.md so that the
 * `Settings` object of `@astraflow/config` can be passed as is.
 */
export interface SessionConfig {
  readonly tenant: string;
  readonly worker_name: string;
  readonly worker_instance_id?: string | undefined;
  readonly worker_instance_id_file?: string | undefined;
  readonly worker_version: string;
  readonly auth_mode: 'token' | 'mtls';
  readonly auth_token?: string | undefined;
  readonly auth_fingerprint?: string | undefined;
  readonly handshake_protocol_version: number;
  readonly heartbeat_interval_seconds: number;
  readonly heartbeat_jitter_seconds: number;
  readonly ack_retry_base_ms: number;
  readonly ack_retry_max_ms: number;
  readonly ack_retry_attempts: number;
  readonly session_accept_timeout_seconds: number;
  readonly session_window_size: number;
  readonly reconnect_base_delay_seconds: number;
  readonly reconnect_max_delay_seconds: number;
  readonly reconnect_jitter: number;
  readonly reconnect_abort_on_auth_error: boolean;
  readonly reconnect_abort_on_protocol_error: boolean;
  readonly transport_recv_queue_max: number;
  readonly session_app_queue_max: number;
  readonly session_app_queue_overflow: OverflowPolicy;
  readonly max_frame_bytes: number;
  readonly data_dir: string;
}
