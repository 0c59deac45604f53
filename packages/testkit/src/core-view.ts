import type { SchedulerCore } from '@astraflow/scheduler-sim';
import type { ReferenceScheduler } from './reference-scheduler.js';

/** A field both the scheduler and its core have, of the same meaning. */
type CoreKey = keyof ReferenceScheduler & keyof SchedulerCore;

/** Fields the scheduler shows straight from its core, always current. */
const CORE_READS = [
  'received',
  'delivered',
  'heartbeats',
  'registers',
  'handshakes',
  'resumes',
  'violations',
  'connections',
  'accepts',
  'retransmissions',
  'state',
] as const satisfies readonly CoreKey[];
/** Settings a test may change on the scheduler; they live on its core. */
const CORE_WRITES = ['acceptDelayMs', 'suppressAccept'] as const satisfies readonly CoreKey[];
/** The {@link ReferenceScheduler} fields {@link withCoreView} adds. */
export type CoreView = (typeof CORE_READS)[number] | (typeof CORE_WRITES)[number];

/**
 * Adds the {@link CORE_READS} getters and {@link CORE_WRITES} accessors to the
 * scheduler, enumerable like the literal getters they replace.
 */
export function withCoreView(scheduler: Omit<ReferenceScheduler, CoreView>, core: SchedulerCore): ReferenceScheduler {
  for (const key of CORE_READS) {
    Object.defineProperty(scheduler, key, { get: () => core[key], enumerable: true, configurable: true });
  }
  for (const key of CORE_WRITES) {
    Object.defineProperty(scheduler, key, {
      get: () => core[key],
      set: (value: never) => {
        core[key] = value;
      },
      enumerable: true,
      configurable: true,
    });
  }
  return scheduler as ReferenceScheduler;
}
