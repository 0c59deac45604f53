// Test support (not shipped: package.json `files` excludes dist/**/*.test-*).
// A hand-driven worker: each test says exactly which frames it sends.
import {
  buildFrame,
  FrameType,
  parseFrame,
  type Frame,
  type PayloadOf,
  type Transport,
  type TransportCloseInfo,
  type TransportConnection,
} from '@astraflow/protocol';
import { FrameLog, scriptedHandshake as handshakePayload, scriptedRegister as registerPayload } from '@astraflow/scheduler-sim';

export {
  scriptedDispatch as dispatchPayload,
  scriptedHandshake as handshakePayload,
  scriptedRegister as registerPayload,
  scriptedResult as resultPayload,
} from '@astraflow/scheduler-sim';

export class ScriptedWorker {
  readonly inbox = new FrameLog<Frame>();
  readonly garbage: string[] = [];
  readonly closes: TransportCloseInfo[] = [];
  senderId = 'scripted';
  tenant = 'default';
  #nextSeq = 1;
  conn!: TransportConnection;
  /** Set while onMessage runs, to prove delivery is never re-entrant. */
  inHandler = false;
  reentered = false;

  static async connect(transport: Transport): Promise<ScriptedWorker> {
    const worker = new ScriptedWorker();
    worker.conn = await transport.connect({
      onMessage: (data) => {
        if (worker.inHandler) worker.reentered = true;
        worker.inHandler = true;
        try {
          const parsed = parseFrame(data);
          if (parsed.ok) worker.inbox.push(parsed.frame);
          else worker.garbage.push(data);
        } finally {
          worker.inHandler = false;
        }
      },
      onClose: (info) => worker.closes.push(info),
    });
    return worker;
  }

  frame<T extends string>(
    type: T,
    payload: PayloadOf<T>,
    opts: { id?: string; seq?: number; corr?: string; ackRequest?: boolean; ackFor?: string } = {},
  ): Frame<T> {
    return buildFrame(type, payload, {
      sender: { role: 'worker', id: this.senderId },
      tenant: this.tenant,
      ...(opts.id !== undefined ? { id: opts.id } : {}),
      ...(opts.seq !== undefined ? { sessionSeq: opts.seq } : {}),
      ...(opts.corr !== undefined ? { corr: opts.corr } : {}),
      ...(opts.ackRequest !== undefined ? { ackRequest: opts.ackRequest } : {}),
      ...(opts.ackFor !== undefined ? { ackFor: opts.ackFor } : {}),
    });
  }

  async send<T extends string>(
    type: T,
    payload: PayloadOf<T>,
    opts: { id?: string; seq?: number; corr?: string; ackRequest?: boolean; ackFor?: string } = {},
  ): Promise<Frame<T>> {
    const frame = this.frame(type, payload, opts);
    await this.conn.send(JSON.stringify(frame));
    return frame;
  }

  /** Sends a business frame with the next session_seq and an ack request. */
  sendReliable<T extends string>(type: T, payload: PayloadOf<T>, opts: { corr?: string } = {}): Promise<Frame<T>> {
    return this.send(type, payload, { ...opts, seq: this.#nextSeq++, ackRequest: true });
  }

  /** Waits for an inbound frame (already received or later). */
  next(predicate: (f: Frame) => boolean, timeoutMs = 2000): Promise<Frame> {
    return this.inbox.waitFor(predicate, { timeoutMs });
  }

  ackFor(id: string): Promise<Frame> {
    return this.next((f) => f.type === FrameType.ACK && f.ack?.for === id);
  }

  async handshake(opts: { token?: string; instanceId?: string } = {}): Promise<Frame> {
    const hs = await this.send(FrameType.HANDSHAKE, handshakePayload(opts), { ackRequest: true });
    return hs;
  }

  /** handshake → ack → register → ack → accept; adopts the accepted instance id like a worker does. */
  async establish(opts: { token?: string; instanceId?: string } = {}): Promise<Frame<'control.session.accept'>> {
    const hs = await this.handshake(opts);
    await this.ackFor(hs.id);
    const reg = await this.send(FrameType.REGISTER, registerPayload, { ackRequest: true });
    await this.ackFor(reg.id);
    const accept = (await this.next((f) => f.type === FrameType.SESSION_ACCEPT)) as Frame<'control.session.accept'>;
    this.senderId = accept.payload.worker_instance_id;
    this.#nextSeq = 1;
    return accept;
  }

  /** Acks a scheduler business frame the way a worker with the given window would. */
  ack(frame: Frame, window: { ack_seq: number; ack_bitmap?: number; recv_window?: number }): Promise<Frame> {
    return this.send(
      FrameType.ACK,
      { ok: true, for: frame.id, ack_bitmap: 0, recv_window: 64, ...window },
      { ackFor: frame.id, ...(frame.corr ? { corr: frame.corr } : {}) },
    );
  }
}
