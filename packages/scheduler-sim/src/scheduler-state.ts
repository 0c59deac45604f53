// Internal bookkeeping of the scheduler simulator, shared by its parts and not exported from the package.
import type { Frame, ReceiveWindow, SendWindow } from '@astraflow/protocol';
import type { SchedulerLink, SchedulerPhase } from './scheduler-options.js';

/** Where one connection stands; `closed` once either side ended it. */
export type ConnPhase = Exclude<SchedulerPhase, 'disconnected'> | 'closed';

/** One worker connection as the simulator tracks it. */
export interface Conn {
  id: number;
  link: SchedulerLink;
  phase: ConnPhase;
  workerInstanceId: string | undefined;
  handshakeId: string | undefined;
  registerId: string | undefined;
  resumeId: string | undefined;
  accept: Frame | undefined;
  acceptTimer: ReturnType<typeof setTimeout> | undefined;
}

/** The one session the simulator keeps; it outlives connections until a reset or a fresh register. */
export interface SimSession {
  id: string;
  token: string;
  workerInstanceId: string;
  expiresAt: Date;
  recv: ReceiveWindow<Frame>;
  send: SendWindow<Frame>;
  creditLearned: boolean;
  conn: Conn | undefined;
  resumed: boolean;
  retries: Map<number, ReturnType<typeof setTimeout>>;
}
