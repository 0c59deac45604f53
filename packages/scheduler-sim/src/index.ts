/**
 * `@astraflow/scheduler-sim`: the scheduler side of the AstraFlow session
 * protocol, independent of any transport. `@astraflow/transport-dummy` drives
 * it in memory and `@astraflow/testkit` over a real WebSocket server; use it
 * to build a scheduler double on another transport. It is a test tool: the
 * worker never depends on it.
 *
 * @example
 * ```ts
 * import { createSchedulerCore } from '@astraflow/scheduler-sim';
 *
 * const core = createSchedulerCore({ token: 'secret' });
 * const conn = core.openConnection({ send: (text) => socket.send(text), close: (c, r) => socket.close(c, r) });
 * socket.on('message', (text) => conn.receive(String(text)));
 * socket.on('close', () => conn.closed());
 * await core.waitForSession();
 * const { done } = core.dispatch(payload);
 * ```
 *
 * @packageDocumentation
 */
export { createSchedulerCore, SchedulerCore } from './scheduler-core.js';
export { SchedulerEngine } from './scheduler-engine.js';
export { SchedulerRecord } from './scheduler-record.js';
export type {
  DispatchHandle,
  RetransmitPolicy,
  SchedulerCommandOptions,
  SchedulerConnection,
  SchedulerCoreOptions,
  SchedulerFrameListener,
  SchedulerLink,
  SchedulerPhase,
  SchedulerSendOptions,
  SchedulerSessionState,
} from './scheduler-options.js';
export { checkWorkerFrame, type CheckWorkerFrameOptions, type WorkerFrameCheck } from './check-worker-frame.js';
export { buildAckFrame, signSessionToken, verifySessionToken, type SchedulerIdentity } from './scheduler-frames.js';
export { FrameLog, type FrameLogWaitOptions } from './frame-log.js';
export type { FrameTamper } from './frame-tamper.js';
export { scriptedDispatch, scriptedHandshake, scriptedRegister, scriptedResult } from './scripted-payloads.js';
