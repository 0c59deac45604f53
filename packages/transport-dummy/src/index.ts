/**
 * `@astraflow/transport-dummy`: the offline test double of a scheduler
 * connection. The worker talks to it like to any {@link Transport}; the test
 * reads what the worker sent and injects what a scheduler would send. By
 * default a minimal in-memory scheduler answers handshakes, registers and
 * resumes and keeps both sliding windows, so a worker reaches READY unaided.
 *
 * @example
 * ```ts
 * import { createDummyTransport } from '@astraflow/transport-dummy';
 *
 * const transport = createDummyTransport({ token: 'secret' });
 * // ...start the worker with this transport...
 * await transport.waitFor((f) => f.type === 'control.register');
 * await transport.send('biz.exec.dispatch', dispatch, { id: 'd-1' });
 * const reply = await transport.waitFor((f) => f.corr === 'd-1' && f.type === 'biz.exec.result');
 * expect(transport.violations).toEqual([]);
 * ```
 *
 * @packageDocumentation
 */
export {
  createDummyTransport,
  type DummyTransport,
  type DummyTransportOptions,
} from './dummy-transport.js';
export type { SchedulerCore, SchedulerSendOptions } from '@astraflow/scheduler-sim';
