// Test support (not shipped: package.json `files` excludes dist/**/*.test-*).
// A hand-driven worker on a real `ws` client: each test says exactly which frames it sends.
import { buildFrame, FrameType, parseFrame, type Frame, type PayloadOf } from '@astraflow/protocol';
import { FrameLog, scriptedHandshake, scriptedRegister } from '@astraflow/scheduler-sim';
import { WebSocket } from 'ws';

export {
  scriptedDispatch as dispatchPayload,
  scriptedRegister as registerPayload,
  scriptedResult as resultPayload,
} from '@astraflow/scheduler-sim';

interface SendOpts {
  id?: string;
  seq?: number;
  corr?: string | null;
  ackRequest?: boolean;
  ackFor?: string;
}

export class WsWorker {
  readonly inbox = new FrameLog<Frame>();
  readonly raw: string[] = [];
  senderId = 'ws-scripted';
  tenant = 'default';
  nextSeq = 1;
  closeInfo: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      this.raw.push(text);
      const parsed = parseFrame(text);
      if (parsed.ok) this.inbox.push(parsed.frame);
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => {});
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<WsWorker> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const worker = new WsWorker(ws);
      ws.once('open', () => resolve(worker));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  /** Resolves with the HTTP status of a refused upgrade. */
  static async refusalStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
    try {
      const worker = await WsWorker.connect(url, headers);
      worker.ws.terminate();
      return 101;
    } catch (err) {
      return (err as { status?: number }).status ?? -1;
    }
  }

  frame<T extends string>(type: T, payload: PayloadOf<T>, opts: SendOpts = {}): Frame<T> {
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

  sendFrame(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  send<T extends string>(type: T, payload: PayloadOf<T>, opts: SendOpts = {}): Frame<T> {
    const frame = this.frame(type, payload, opts);
    this.sendFrame(frame);
    return frame;
  }

  /** A business frame with the next session_seq and an ack request (not sent). */
  reliable<T extends string>(type: T, payload: PayloadOf<T>, opts: { corr?: string } = {}): Frame<T> {
    return this.frame(type, payload, { ...opts, seq: this.nextSeq++, ackRequest: true });
  }

  next(predicate: (f: Frame) => boolean, timeoutMs = 3000): Promise<Frame> {
    return this.inbox.waitFor(predicate, { timeoutMs });
  }

  ackFor(id: string): Promise<Frame> {
    return this.next((f) => f.type === FrameType.ACK && f.ack?.for === id);
  }

  async establish(opts: { token?: string; instanceId?: string } = {}): Promise<Frame<'control.session.accept'>> {
    const hs = this.send(FrameType.HANDSHAKE, scriptedHandshake({ ...opts, workerName: 'ws-scripted' }), { ackRequest: true });
    await this.ackFor(hs.id);
    const reg = this.send(FrameType.REGISTER, scriptedRegister, { ackRequest: true });
    await this.ackFor(reg.id);
    const accept = (await this.next((f) => f.type === FrameType.SESSION_ACCEPT)) as Frame<'control.session.accept'>;
    this.senderId = accept.payload.worker_instance_id;
    this.nextSeq = 1;
    return accept;
  }

  /** Sends the control.ack a worker returns for a scheduler frame. */
  ack(frame: Frame, window: { ack_seq: number; ack_bitmap?: number; recv_window?: number }): void {
    this.send(
      FrameType.ACK,
      { ok: true, for: frame.id, ack_bitmap: 0, recv_window: 64, ...window },
      { ackFor: frame.id, ...(frame.corr ? { corr: frame.corr } : {}) },
    );
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'bye');
    return this.closed;
  }
}
