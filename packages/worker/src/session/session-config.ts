import type { Settings } from '@astraflow/config';

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
