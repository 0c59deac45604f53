/**
 * `@astraflow/testkit`: a reference AstraFlow scheduler on a real WebSocket
 * server, with reproducible fault injection, for end-to-end tests of
 * workers; plus a tiny static file server for package archives.
 *
 * @example
 * ```ts
 * import { startReferenceScheduler } from '@astraflow/testkit';
 *
 * const scheduler = await startReferenceScheduler({ token: 't0k3n', seed: 42 });
 * // point a worker at scheduler.url with auth_token 't0k3n', then:
 * await scheduler.waitForSession();
 * scheduler.faults.dropOut = 0.2; // lose a fifth of the frames to the worker
 * const { done } = scheduler.dispatch(dispatchPayload);
 * const answer = await done; // biz.exec.result or biz.exec.error, corr = dispatch id
 * expect(scheduler.violations).toEqual([]);
 * await scheduler.close();
 * ```
 *
 * @packageDocumentation
 */
export {
  startReferenceScheduler,
  type InjectedFaults,
  type ReferenceScheduler,
  type ReferenceSchedulerOptions,
} from './reference-scheduler.js';
export { FaultLane, noFaults, type Faults, type LaneSettings } from './faults.js';
export { startFileServer, type FileServer, type FileServerOptions } from './file-server.js';
export { createPrng } from './prng.js';
export type {
  DispatchHandle,
  FrameTamper,
  SchedulerCommandOptions,
  SchedulerFrameListener,
  SchedulerSendOptions,
  SchedulerSessionState,
} from '@astraflow/scheduler-sim';
export {
  createRunCoordinator,
  type NodeStatus,
  type RunCoordinator,
  type RunCoordinatorOptions,
  type RunReport,
  type TaskAttempt,
  type TaskReport,
} from './run-coordinator.js';
export { createUpstreamSchemas, type SchemaVerdict, type UpstreamSchemas } from './upstream-schemas.js';
