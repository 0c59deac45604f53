import type { ExecDispatchPayload, ExecResultPayload, HandshakePayload, RegisterPayload } from '@astraflow/protocol';

/**
 * Payloads for a hand-driven worker in tests of a scheduler double, where
 * each test says exactly which frames the "worker" sends: a handshake
 * (with `token` and `instanceId` when given), a minimal register, and a
 * dispatch and its result keyed by a task name.
 */
export function scriptedHandshake(options: { token?: string; instanceId?: string; workerName?: string } = {}): HandshakePayload {
  return {
    protocol: 1,
    auth: { mode: 'token', ...(options.token !== undefined ? { token: options.token } : {}) },
    worker: {
      worker_name: options.workerName ?? 'scripted',
      version: '0.0.0',
      hostname: 'localhost',
      ...(options.instanceId !== undefined ? { worker_instance_id: options.instanceId } : {}),
    },
  };
}

/** A register of a one-slot node worker with nothing installed (see {@link scriptedHandshake}). */
export const scriptedRegister: RegisterPayload = {
  capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
  packages: [],
};

/** A dispatch of task `task` to node type `echo` of `demo@1.0.0` (see {@link scriptedHandshake}). */
export function scriptedDispatch(task: string): ExecDispatchPayload {
  return {
    run_id: 'run-1',
    task_id: task,
    node_id: `node-${task}`,
    node_type: 'echo',
    package_name: 'demo',
    package_version: '1.0.0',
    parameters: { task },
    constraints: {},
  };
}

/** A successful result of task `task` (see {@link scriptedDispatch}). */
export function scriptedResult(task: string): ExecResultPayload {
  return { run_id: 'run-1', task_id: task, status: 'SUCCEEDED', result: { task } };
}
