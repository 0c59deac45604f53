import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Frame, Logger, RegisterPayload, Transport } from '@astraflow/protocol';
import { afterEach, beforeEach } from 'vitest';
import { createLogger } from '../logger.js';
import { Session } from './session.js';
import type { DeliverySink, SessionOptions } from './session-types.js';
import { compileSessionConfig, type SessionConfig } from './session-config.js';

/** Session settings for unit tests: fast timers, small frames, data under `dir`. */
export function testSessionConfig(dir: string, overrides: Partial<SessionConfig> = {}): SessionConfig {
  return {
    tenant: 'default',
    worker_name: 'test-worker',
    worker_instance_id: undefined,
    worker_instance_id_file: undefined,
    auth_fingerprint: undefined,
    worker_version: '0.0.0-test',
    auth_mode: 'token',
    auth_token: 'secret-token',
    handshake_protocol_version: 1,
    heartbeat_interval_seconds: 30,
    heartbeat_jitter_seconds: 0,
    ack_retry_base_ms: 50,
    ack_retry_max_ms: 200,
    ack_retry_attempts: 6,
    session_accept_timeout_seconds: 2,
    session_window_size: 8,
    session_recv_stall_seconds: 60,
    reconnect_base_delay_seconds: 0.05,
    reconnect_max_delay_seconds: 0.2,
    reconnect_jitter: 0.2,
    reconnect_abort_on_auth_error: false,
    reconnect_abort_on_protocol_error: false,
    transport_recv_queue_max: 0,
    session_app_queue_max: 0,
    session_app_queue_overflow: 'block',
    max_frame_bytes: 64 * 1024,
    max_outbound_frame_bytes: 64 * 1024,
    data_dir: `${dir}/var/data`,
    ...overrides,
  };
}

/** A real pino logger at DEBUG whose lines are kept in `lines` (the secret-scan tests read them). */
export function captureLogger(secrets: string[] = []): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination, secrets }), lines };
}

/** A minimal register payload: one slot, the dispatch payload type, no packages. */
export function testRegister(): RegisterPayload {
  return {
    capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
    payload_types: ['biz.exec.dispatch'],
    packages: [],
    manifests: [],
  };
}

/** A started session with a minimal register payload. */
export function startTestSession(
  transport: Transport,
  config: SessionConfig,
  { sink, ...extra }: Partial<SessionOptions> & { sink?: DeliverySink } = {},
): Session {
  const session = new Session({
    config: compileSessionConfig(config),
    transport,
    register: testRegister,
    heartbeatMetrics: () => ({ inflight: 0 }),
    ...extra,
  });
  if (sink) session.attach(sink);
  void session.start();
  return session;
}

/** A scheduler frame of `type` at `session_seq`, as raw JSON text. */
export function numberedFrame(type: string, seq: number, payload: object, extra: Record<string, unknown> = {}): string {
  const frame: Partial<Frame> & Record<string, unknown> = {
    type,
    id: `f-${seq}`,
    ts: new Date().toISOString(),
    tenant: 'default',
    sender: { role: 'scheduler', id: 'sched' },
    session_seq: seq,
    payload: payload as Record<string, unknown>,
    ...extra,
  };
  return JSON.stringify(frame);
}

/**
 * Registers vitest hooks that give each test a fresh temporary folder (`dir`) and close
 * every session pushed to `sessions` after it, before the folder is removed.
 */
export function sessionTestFixture(prefix: string): { readonly dir: string; readonly sessions: Session[] } {
  let dir = '';
  const sessions: Session[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    sessions,
  };
}

/** A `biz.exec.dispatch` payload for the echo package's `echo.echo` node. */
export function testDispatch(taskId: string, parameters: Record<string, unknown> = {}, runId = 'run-1') {
  return {
    run_id: runId,
    task_id: taskId,
    node_id: 'n1',
    node_type: 'echo.echo',
    package_name: 'echo',
    package_version: '1.0.0',
    parameters,
    constraints: {},
  };
}
