import {
  AstraError,
  buildFrame,
  classifyCloseCode,
  createNoopLogger,
  ErrorCode,
  FrameType,
  parseFrame,
  type DrainPayload,
  type FailureClass,
  type Frame,
  type Logger,
  type PayloadOf,
  type Transport,
  type TransportCloseInfo,
  type TransportConnection,
  type TransportConnectOptions,
  type TransportHandlers,
} from '@astraflow/protocol';
import {
  checkWorkerFrame,
  FrameLog,
  SchedulerCore,
  type SchedulerConnection,
  type SchedulerSendOptions,
} from '@astraflow/scheduler-sim';

/** Options of {@link createDummyTransport}. */
export interface DummyTransportOptions {
  /** Play a minimal scheduler (acks, accept, resume, windows). `false`: only record and inject. Default true. */
  scheduler?: boolean;
  /** Tenant expected on worker frames and used on scheduler frames. Default `default`. */
  tenant?: string;
  /** Receive window the scheduler advertises. Default 64. */
  windowSize?: number;
  /** Token the handshake must present; none = any. */
  token?: string;
  logger?: Logger;
}

/**
 * An in-memory {@link Transport} whose far end is a test, not a network.
 * Everything the worker sends is recorded; with `scheduler: true` a
 * {@link SchedulerCore} answers it like a minimal scheduler.
 */
export interface DummyTransport extends Transport {
  readonly name: 'dummy';
  /** Every valid frame the worker sent (after `parseFrame`), in order. */
  readonly sent: Frame[];
  /** Raw text of worker frames that failed `parseFrame`. */
  readonly invalid: string[];
  /** Protocol violations by the worker (schema and session rules). Tests expect it empty. */
  readonly violations: string[];
  /** Business frames the scheduler delivered (exactly once, in order); empty when `scheduler: false`. */
  readonly delivered: Frame[];
  /** The scheduler engine, when `scheduler: true`. */
  readonly scheduler: SchedulerCore | undefined;
  /** Connections established so far. */
  readonly connections: number;
  /** `control.session.accept` frames sent so far (fresh and resumed). */
  readonly acceptedSessions: number;
  /** True while a connection is open. */
  readonly isConnected: boolean;
  /** Delivers a frame to the worker as if the scheduler sent it (a string goes as is). */
  inject(frame: object | string): void;
  /**
   * Sends a business frame the way a scheduler does: next `session_seq`,
   * `ack.request`. Resolves with the frame once handed to the worker (with a
   * scheduler: after a session exists and the worker's window has room).
   */
  send<T extends string>(type: T, payload: PayloadOf<T>, options?: SchedulerSendOptions): Promise<Frame<T>>;
  /** Drops the current connection; the worker sees `onClose` (default code 1006, failure `network`). */
  disconnect(info?: Partial<TransportCloseInfo>): void;
  /** Makes `connect()` reject with `E.TRANSPORT.FAILURE` of this class (default `network`); `false` lifts it. */
  refuseConnections(failure?: FailureClass | false): void;
  /** Resolves with the first frame the worker sent (already or later) that matches. Default timeout 5000 ms. */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  /** Scheduler mode: sends `control.reset`, closes the connection and forgets the session. */
  reset(code: string, reason: string, retryAfterMs?: number): void;
  /** Scheduler mode: sends `control.drain`. */
  drain(payload?: DrainPayload): void;
}

/** HTTP status a refused upgrade of each failure class would have carried. */
const STATUS_OF: Partial<Record<FailureClass, number>> = { auth: 401, protocol: 400 };

type Outgoing = { text: string } | { close: TransportCloseInfo };

class DummyConnection implements TransportConnection {
  #open = true;
  #closeReported = false;
  /** Scheduler → worker, delivered in order on the microtask queue. */
  #toWorker: Outgoing[] = [];
  #toWorkerScheduled = false;
  /** Worker → scheduler, processed in order on the microtask queue. */
  #toScheduler: Array<string | null> = [];
  #toSchedulerScheduled = false;
  core: SchedulerConnection | undefined;

  constructor(
    private readonly handlers: TransportHandlers,
    private readonly record: (text: string) => void,
    private readonly log: Logger,
  ) {}

  get isOpen(): boolean {
    return this.#open;
  }

  send(data: string): Promise<void> {
    if (!this.#open) {
      return Promise.reject(
        new AstraError(ErrorCode.TRANSPORT_FAILURE, 'dummy connection is closed', { details: { failure: 'network' } }),
      );
    }
    this.record(data);
    if (this.core !== undefined) {
      this.#toScheduler.push(data);
      this.#flushToScheduler();
    }
    return Promise.resolve();
  }

  close(code = 1000, reason = ''): void {
    if (!this.#open) return;
    this.#open = false;
    // Frames already sent reach the scheduler before it learns of the close, as on a socket.
    this.#toScheduler.push(null);
    this.#flushToScheduler();
    this.#toWorker = [{ close: { code, reason, failure: classifyCloseCode(code) } }];
    this.#flushToWorker();
  }

  /** Scheduler → worker. */
  deliver(text: string): void {
    if (!this.#open) return;
    this.#toWorker.push({ text });
    this.#flushToWorker();
  }

  /** The scheduler closes: queued frames (a reset, say) still arrive, then `onClose`. */
  closeFromScheduler(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.core?.closed();
    this.#toWorker.push({ close: { code, reason, failure: classifyCloseCode(code) } });
    this.#flushToWorker();
  }

  /** The link breaks: whatever is still in flight either way is lost. */
  drop(info: TransportCloseInfo): void {
    if (!this.#open) return;
    this.#open = false;
    this.#toScheduler = [];
    this.core?.closed();
    this.#toWorker = [{ close: info }];
    this.#flushToWorker();
  }

  #flushToWorker(): void {
    if (this.#toWorkerScheduled) return;
    this.#toWorkerScheduled = true;
    queueMicrotask(() => {
      this.#toWorkerScheduled = false;
      while (this.#toWorker.length > 0) {
        const next = this.#toWorker.shift() as Outgoing;
        if ('text' in next) {
          try {
            this.handlers.onMessage(next.text);
          } catch (err) {
            this.log.error({ err }, 'worker onMessage threw');
          }
        } else if (!this.#closeReported) {
          this.#closeReported = true;
          this.#toWorker = [];
          this.handlers.onClose(next.close);
        }
      }
    });
  }

  #flushToScheduler(): void {
    if (this.#toSchedulerScheduled) return;
    this.#toSchedulerScheduled = true;
    queueMicrotask(() => {
      this.#toSchedulerScheduled = false;
      while (this.#toScheduler.length > 0) {
        const next = this.#toScheduler.shift();
        if (next === null) this.core?.closed();
        else if (next !== undefined) this.core?.receive(next);
      }
    });
  }
}

/**
 * Creates the in-memory test double of a scheduler connection.
 *
 * @example
 * ```ts
 * const transport = createDummyTransport();
 * // start the worker with { transport }, then:
 * await transport.waitFor((f) => f.type === 'control.register');
 * await transport.send('biz.exec.dispatch', dispatchPayload, { id: 'd-1' });
 * const result = await transport.waitFor((f) => f.type === 'biz.exec.result' && f.corr === 'd-1');
 * ```
 */
export function createDummyTransport(options: DummyTransportOptions = {}): DummyTransport {
  const tenant = options.tenant ?? 'default';
  const log = (options.logger ?? createNoopLogger()).child({ component: 'transport-dummy' });
  const core =
    options.scheduler === false
      ? undefined
      : new SchedulerCore({
          tenant,
          ...(options.windowSize !== undefined ? { windowSize: options.windowSize } : {}),
          ...(options.token !== undefined ? { token: options.token } : {}),
          senderId: 'dummy-scheduler',
          logger: log,
        });
  const sent = new FrameLog<Frame>();
  const invalid: string[] = [];
  const passiveViolations: string[] = [];
  let refused: FailureClass | false = false;
  let connections = 0;
  let current: DummyConnection | undefined;
  // Without a scheduler the test numbers the stream itself through send(); a fresh accept restarts it.
  let passiveNextSeq = 1;

  const record = (text: string): void => {
    const parsed = parseFrame(text);
    if (parsed.ok) sent.push(parsed.frame);
    else invalid.push(text);
    // With a scheduler the core records violations as it processes the frame.
    if (core === undefined) {
      const check = checkWorkerFrame(text, { tenant });
      if (!check.ok) passiveViolations.push(check.violation);
    }
  };

  const requireOpen = (what: string): DummyConnection => {
    if (current === undefined || !current.isOpen) {
      throw new AstraError(ErrorCode.TRANSPORT_FAILURE, `${what}: the worker is not connected`);
    }
    return current;
  };

  const requireCore = (what: string): SchedulerCore => {
    if (core === undefined) {
      throw new AstraError(ErrorCode.CONFIG_INVALID, `${what} needs the dummy scheduler (scheduler: true)`);
    }
    return core;
  };

  const transport: DummyTransport = {
    name: 'dummy',
    get sent() {
      return sent.items;
    },
    invalid,
    get violations() {
      return core?.violations ?? passiveViolations;
    },
    get delivered() {
      return core?.delivered ?? [];
    },
    scheduler: core,
    get connections() {
      return connections;
    },
    get acceptedSessions() {
      return core?.accepts ?? 0;
    },
    get isConnected() {
      return current?.isOpen ?? false;
    },

    async connect(handlers: TransportHandlers, connectOptions: TransportConnectOptions = {}) {
      // Settle asynchronously, as a real connect would.
      await Promise.resolve();
      if (connectOptions.signal?.aborted) {
        throw new AstraError(ErrorCode.TRANSPORT_FAILURE, 'connection attempt aborted', {
          details: { failure: 'network', aborted: true },
        });
      }
      if (refused !== false) {
        const status = STATUS_OF[refused];
        throw new AstraError(ErrorCode.TRANSPORT_FAILURE, `dummy transport refuses connections (${refused})`, {
          details: { failure: refused, ...(status !== undefined ? { status } : {}) },
        });
      }
      connections++;
      const conn = new DummyConnection(handlers, record, log);
      if (core !== undefined) {
        conn.core = core.openConnection({
          send: (text) => conn.deliver(text),
          close: (code, reason) => conn.closeFromScheduler(code, reason),
        });
      }
      current = conn;
      return conn;
    },

    inject(frame) {
      const conn = requireOpen('inject');
      const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
      if (core === undefined && typeof frame !== 'string') {
        const f = frame as { type?: unknown; payload?: { resumed?: unknown } };
        if (f.type === FrameType.SESSION_ACCEPT && f.payload?.resumed !== true) passiveNextSeq = 1;
      }
      conn.deliver(text);
    },

    send(type, payload, sendOptions = {}) {
      if (core !== undefined) return core.send(type, payload, sendOptions);
      try {
        const conn = requireOpen('send');
        const frame = buildFrame(type, payload, {
          sender: { role: 'scheduler', id: 'dummy-scheduler' },
          tenant,
          sessionSeq: passiveNextSeq,
          ackRequest: true,
          ...(sendOptions.id !== undefined ? { id: sendOptions.id } : {}),
          ...(sendOptions.corr !== undefined ? { corr: sendOptions.corr } : {}),
          ...(sendOptions.seq !== undefined ? { seq: sendOptions.seq } : {}),
        });
        passiveNextSeq++;
        conn.deliver(JSON.stringify(frame));
        return Promise.resolve(frame);
      } catch (err) {
        return Promise.reject(err);
      }
    },

    disconnect(info = {}) {
      const conn = requireOpen('disconnect');
      const code = info.code ?? 1006;
      conn.drop({
        code,
        reason: info.reason ?? 'connection lost',
        failure: info.failure ?? (code === 1006 ? 'network' : classifyCloseCode(code)),
        ...(info.error !== undefined ? { error: info.error } : {}),
      });
    },

    refuseConnections(failure = 'network') {
      refused = failure;
    },

    waitFor(predicate, timeoutMs = 5000) {
      return sent.waitFor(predicate, { timeoutMs, what: 'matching frame from the worker' });
    },

    reset(code, reason, retryAfterMs) {
      requireCore('reset').reset(code, reason, retryAfterMs);
    },

    drain(payload = {}) {
      requireCore('drain').drain(payload);
    },
  };
  return transport;
}
