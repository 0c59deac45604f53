import { randomUUID } from 'node:crypto';
import type { OutboxStore } from '@astraflow/outbox';
import {
  AstraError,
  ErrorCode,
  FrameType,
  RefusalReason,
  createNoopLogger,
  type ExecDispatchPayload,
  type ExecErrorPayload,
  type Frame,
  type Logger,
  type PayloadOf,
} from '@astraflow/protocol';
import type { Outbox } from './outbox.js';
import type { OutboundReceipt, SendOptions } from './session/session-types.js';

/** Frames the worker commits to: kept in the store from before their first transmission until acked. */
const ANSWER_TYPES: ReadonlySet<string> = new Set([FrameType.EXEC_RESULT, FrameType.EXEC_ERROR, FrameType.PKG_EVENT]);
/** How many dispatch keys to remember so that a repeated dispatch is not recorded twice. */
const REMEMBER = 10_000;

/** A dispatch as recorded when it was accepted. */
export interface DispatchRecord {
  id: string;
  corr: string | null;
  seq: number | null;
  run_id: string;
  task_id: string;
  node_id: string;
  started_at: number;
}

interface AnswerRecord {
  type: string;
  payload: Record<string, unknown>;
  corr: string | null;
  seq: number | null;
  /** The dispatch this answers, when it is one. */
  dispatch?: { id: string; corr: string | null };
}

/** An answer put back on the wire at start; the dispatch handler learns it so a repeated dispatch is not run again. */
export interface ReplayedAnswer {
  dispatch: { id: string; corr: string | null } | undefined;
  type: typeof FrameType.EXEC_RESULT | typeof FrameType.EXEC_ERROR | typeof FrameType.PKG_EVENT;
  payload: Record<string, unknown>;
  frameId: string;
  acked: Promise<void>;
}

/** Gauges and counters of the outbox, for metrics. */
export interface DurableOutboxStats {
  /** Records in the store (answers unacked plus dispatches unanswered). */
  depth: number;
  bytes: number;
  /** Age in seconds of the oldest record, 0 when empty. */
  oldestAgeSeconds: number;
  /** Answers sent again at start, and dispatches answered `worker_restart` at start. */
  replayedAnswers: number;
  cancelledAtStart: number;
  /** Writes the store refused (full or disk error). */
  writeFailures: number;
  /** Dispatches refused as `overloaded` because they could not be recorded. */
  refusedDispatches: number;
}

/** Options of {@link DurableOutbox}. */
export interface DurableOutboxOptions {
  /** Where frames go after they are stored (the session). */
  session: Outbox;
  store: OutboxStore;
  logger?: Logger;
  /** Clock for `at` stamps and ages (tests). */
  now?: () => number;
}

const keyOf = (id: string, corr: string | null | undefined): string => `${id}\u0000${corr ?? ''}`;
const dispatchKey = (key: string): string => `d:${key}`;
const answerKey = (frameId: string): string => `a:${frameId}`;

/**
 * The worker's durable outbox: it wraps the session's `send` so that every
 * answer (`biz.exec.result`, `biz.exec.error`, `biz.pkg.event`) is in the
 * store before it first goes out and leaves it once acked, and it records
 * each accepted dispatch (through the session's `persistInbound` hook, before
 * the dispatch is acked) until its answer is stored. {@link replay} turns what
 * a crashed process left behind into answers again. When the store is full or
 * the disk fails, answers still go out from memory and new dispatches are
 * refused (`E.RUNNER.CANCELLED`, reason `overloaded`) until writes work again.
 */
export class DurableOutbox implements Outbox {
  readonly #session: Outbox;
  readonly #store: OutboxStore;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Dispatch id → dedupe key, for dispatches recorded and not yet answered. */
  readonly #open = new Map<string, string>();
  /** Dedupe keys already recorded or answered (bounded, oldest forgotten first). */
  readonly #known = new Set<string>();
  /** Dedupe keys of dispatches that could not be recorded: to be refused. */
  readonly #unrecorded = new Set<string>();
  /** Records being written, by dedupe key: a dispatch is admitted only once its record settled. */
  readonly #recording = new Map<string, Promise<void>>();
  #failing = false;
  readonly #stats = { replayedAnswers: 0, cancelledAtStart: 0, writeFailures: 0, refusedDispatches: 0 };

  constructor(options: DurableOutboxOptions) {
    this.#session = options.session;
    this.#store = options.store;
    this.#log = (options.logger ?? createNoopLogger()).child({ component: 'outbox' });
    this.#now = options.now ?? Date.now;
  }

  /** Current gauges and counters. */
  get stats(): DurableOutboxStats {
    const s = this.#store.stats();
    return {
      depth: s.records,
      bytes: s.bytes,
      oldestAgeSeconds: s.oldestAt === undefined ? 0 : Math.max(0, (this.#now() - s.oldestAt) / 1000),
      ...this.#stats,
    };
  }

  /**
   * For the session's `persistInbound`: records a newly accepted dispatch.
   * Never rejects; a dispatch that could not be recorded is remembered and
   * {@link refuses} it, so the ack still goes out and the scheduler gets an answer.
   */
  recordInbound(frame: Frame): Promise<void> | undefined {
    if (frame.type !== FrameType.EXEC_DISPATCH) return undefined;
    const key = keyOf(frame.id, frame.corr);
    if (this.#known.has(key)) return undefined;
    this.#remember(key);
    const dispatch = frame.payload as ExecDispatchPayload;
    const data: DispatchRecord = {
      id: frame.id,
      corr: frame.corr ?? null,
      seq: typeof frame.seq === 'number' ? frame.seq : null,
      run_id: dispatch.run_id,
      task_id: dispatch.task_id,
      node_id: dispatch.node_id,
      started_at: this.#now(),
    };
    this.#open.set(frame.id, key);
    const recording = this.#store.put({ key: dispatchKey(key), kind: 'dispatch', at: data.started_at, data }).then(
      () => this.#healthy(),
      (err: unknown) => {
        this.#open.delete(frame.id);
        this.#unrecorded.add(key);
        this.#failed(err, 'new dispatches are refused as overloaded');
      },
    );
    this.#recording.set(key, recording);
    void recording.finally(() => this.#recording.delete(key));
    return recording;
  }

  /**
   * Resolves true (once) for a dispatch that could not be recorded: the
   * caller refuses it as `overloaded` instead of running work a crash would
   * lose. Waits for the record of a dispatch still being written.
   */
  async refuses(frame: Frame): Promise<boolean> {
    const key = keyOf(frame.id, frame.corr);
    await this.#recording.get(key);
    const refused = this.#unrecorded.delete(key);
    if (refused) this.#stats.refusedDispatches++;
    return refused;
  }

  send<T extends string>(type: T, payload: PayloadOf<T>, options: SendOptions = {}): Promise<OutboundReceipt> {
    if (!ANSWER_TYPES.has(type)) return this.#session.send(type, payload, options);
    const id = options.id ?? randomUUID();
    return this.#persistAnswer(id, type, payload as Record<string, unknown>, options).then(() =>
      this.#transmit(id, type, payload, options),
    );
  }

  /**
   * Puts back on the wire what an earlier process left: every stored answer
   * under its original frame id and corr, and for every dispatch accepted but
   * never answered an `E.RUNNER.CANCELLED` (`details.reason: "worker_restart"`)
   * so the scheduler dispatches it again at once. Call it once, before the
   * session starts: the frames are queued ahead of any new work.
   */
  async replay(): Promise<ReplayedAnswer[]> {
    const out: ReplayedAnswer[] = [];
    const queued: Array<() => void> = [];
    for (const record of this.#store.recovered) {
      if (record.kind === 'answer') {
        const data = record.data as AnswerRecord;
        const frameId = record.key.slice(2);
        if (data.dispatch) this.#remember(keyOf(data.dispatch.id, data.dispatch.corr));
        this.#stats.replayedAnswers++;
        queued.push(() => out.push(this.#replayOne(frameId, data)));
      } else if (record.kind === 'dispatch') {
        const d = record.data as DispatchRecord;
        this.#remember(keyOf(d.id, d.corr));
        this.#open.set(d.id, keyOf(d.id, d.corr));
        const frameId = randomUUID();
        const data: AnswerRecord = {
          type: FrameType.EXEC_ERROR,
          payload: cancelledByRestart(d) as unknown as Record<string, unknown>,
          corr: d.id,
          seq: d.seq,
          dispatch: { id: d.id, corr: d.corr },
        };
        await this.#persistAnswer(frameId, data.type, data.payload, { corr: d.id, ...(d.seq !== null ? { seq: d.seq } : {}) });
        this.#stats.cancelledAtStart++;
        queued.push(() => out.push(this.#replayOne(frameId, data)));
      } else {
        this.#log.warn({ key: record.key, kind: record.kind }, 'outbox: unknown record dropped');
        await this.#store.delete(record.key).catch(() => {});
      }
    }
    for (const push of queued) push();
    if (out.length > 0) {
      this.#log.info(
        { answers: this.#stats.replayedAnswers, cancelled: this.#stats.cancelledAtStart },
        'outbox: re-sending answers left by the previous run and cancelling its unfinished dispatches (worker_restart)',
      );
    }
    return out;
  }

  #replayOne(frameId: string, data: AnswerRecord): ReplayedAnswer {
    const options: SendOptions = {
      id: frameId,
      corr: data.corr,
      ...(data.seq !== null ? { seq: data.seq } : {}),
      ackRequest: true,
    };
    const receipt = this.#transmit(frameId, data.type, data.payload as PayloadOf<string>, options);
    const acked = receipt.then((r) => r.acked);
    acked.catch((err: unknown) => {
      this.#log.warn(
        { err: (err as Error).message, id: frameId, type: data.type },
        'outbox: a replayed answer was not delivered',
      );
    });
    return {
      dispatch: data.dispatch,
      type: data.type as ReplayedAnswer['type'],
      payload: data.payload,
      frameId,
      acked,
    };
  }

  async #persistAnswer(id: string, type: string, payload: Record<string, unknown>, options: SendOptions): Promise<void> {
    if (this.#store.has(answerKey(id))) return; // a repeat of a stored answer
    const corr = options.corr ?? null;
    const openKey = corr === null ? undefined : this.#open.get(corr);
    const data: AnswerRecord = {
      type,
      payload,
      corr,
      seq: options.seq ?? null,
      ...(openKey !== undefined ? { dispatch: splitKey(openKey) } : {}),
    };
    try {
      await this.#store.put(
        { key: answerKey(id), kind: 'answer', at: this.#now(), data },
        openKey !== undefined ? { replaces: [dispatchKey(openKey)] } : {},
      );
      if (corr !== null) this.#open.delete(corr);
      this.#healthy();
    } catch (err) {
      // Delivered from memory all the same: the store failing must not cost an answer we hold.
      this.#failed(err, 'answers are delivered from memory meanwhile');
    }
  }

  #transmit<T extends string>(id: string, type: T, payload: PayloadOf<T>, options: SendOptions): Promise<OutboundReceipt> {
    let receipt: Promise<OutboundReceipt>;
    try {
      receipt = this.#session.send(type, payload, { ...options, id });
    } catch (err) {
      // A payload that fails its schema throws at once; a stored one must not stop the start.
      receipt = Promise.reject(err);
    }
    receipt.then(
      (r) =>
        r.acked.then(
          () => this.#settled(id, options.corr ?? null),
          () => {},
        ),
      (err: unknown) => {
        // Refused before it went out (e.g. an invalid payload): keeping it would only fail again at every start.
        if (!AstraError.isInstance(err) || err.code !== ErrorCode.TRANSPORT_FAILURE) void this.#settled(id, options.corr ?? null);
      },
    );
    return receipt;
  }

  async #settled(id: string, corr: string | null): Promise<void> {
    const openKey = corr === null ? undefined : this.#open.get(corr);
    try {
      await this.#store.delete(answerKey(id));
      // The answer could not be stored earlier: the dispatch record it should have replaced goes now.
      if (openKey !== undefined) {
        await this.#store.delete(dispatchKey(openKey));
        if (corr !== null) this.#open.delete(corr);
      }
    } catch (err) {
      this.#failed(err, 'an acked answer stays in the outbox and may be sent once more after a restart');
    }
  }

  #remember(key: string): void {
    this.#known.add(key);
    if (this.#known.size > REMEMBER) this.#known.delete(this.#known.values().next().value as string);
  }

  #healthy(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#log.warn('outbox: writes work again; taking new dispatches');
  }

  #failed(err: unknown, consequence: string): void {
    this.#stats.writeFailures++;
    if (this.#failing) return;
    this.#failing = true;
    const error = AstraError.wrap(err, 'E.OUTBOX.IO');
    this.#log.error(
      { err: error.message, code: error.code, errno: error.details?.errno },
      `outbox cannot write (${error.code}); ${consequence}`,
    );
  }
}

function splitKey(key: string): { id: string; corr: string | null } {
  const [id = '', corr = ''] = key.split('\u0000');
  return { id, corr: corr === '' ? null : corr };
}

function cancelledByRestart(d: DispatchRecord): ExecErrorPayload {
  return {
    code: ErrorCode.RUNNER_CANCELLED,
    message: 'the worker restarted while this task was accepted and unfinished; dispatch it again',
    context: {
      where: 'worker.restart',
      details: {
        run_id: d.run_id,
        task_id: d.task_id,
        node_id: d.node_id,
        reason: RefusalReason.WORKER_RESTART,
        started_at: d.started_at,
      },
    },
  };
}
