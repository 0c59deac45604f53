// A scheduler peer for the benchmark: the scheduler's side of the protocol,
// cut down to what a dispatch run needs (handshake and register acked, one
// session accept, numbered dispatches asking for acks, every numbered frame
// from the worker acked with a cumulative ack_seq). It runs in the bench's
// process while the worker under test runs in its own, and it is the same
// peer for the real worker and for the ceiling responder, so both pay the
// same scheduler-side cost. Frames are built by hand and never validated:
// the peer is the load generator, not the thing measured.
import { WebSocketServer } from 'ws';

const SENDER = { role: 'scheduler', id: 'bench-scheduler' };

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * Starts a peer listening on 127.0.0.1 (port 0). One worker connects; the
 * peer answers its handshake and register, accepts the session and records
 * when (`readyAt`, performance.now() of the bench process).
 */
export async function startSchedulerPeer({ token = 'bench', tenant = 'default', window = 64 } = {}) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `ws://127.0.0.1:${server.address().port}/ws/worker`;
  let ws;
  let frameId = 0;
  let sendSeq = 0;
  // Receive side of the worker's numbered stream.
  let recvBase = 0;
  const early = new Set();
  let ready;
  const whenReady = new Promise((resolve) => (ready = resolve));
  /** corr (dispatch id) → pending task */
  const pending = new Map();
  const counts = { feedback: 0, errors: 0, results: 0 };
  let lastTs = '';
  let lastTsAt = 0;
  const ts = () => {
    // One date string per millisecond is enough for the envelope and saves the peer a Date per frame.
    const now = Date.now();
    if (now !== lastTsAt) {
      lastTsAt = now;
      lastTs = new Date(now).toISOString();
    }
    return lastTs;
  };
  const ackFrame = (frame, extra) =>
    JSON.stringify({
      type: 'control.ack',
      id: `a${++frameId}`,
      ts: ts(),
      corr: frame.corr ?? null,
      tenant,
      sender: SENDER,
      ...(frame.ack?.request ? { ack: { for: frame.id } } : {}),
      payload: { ok: true, ...(frame.ack?.request ? { for: frame.id } : {}), ...extra },
    });

  const onFrame = (raw) => {
    const frame = JSON.parse(raw);
    const type = frame.type;
    if (type === 'control.handshake') {
      if (frame.payload?.auth?.token !== token) {
        ws.send(ackFrame(frame, { ok: false, info: 'bad token' }));
        return;
      }
      ws.send(ackFrame(frame, {}));
      return;
    }
    if (type === 'control.register') {
      ws.send(ackFrame(frame, {}));
      if (peer.readyAt === undefined) {
        ws.send(
          JSON.stringify({
            type: 'control.session.accept',
            id: `s${++frameId}`,
            ts: ts(),
            tenant,
            sender: SENDER,
            payload: {
              session_id: 'bench-session',
              session_token: 'bench-session-token',
              worker_instance_id: 'bench-worker',
              resumed: false,
            },
          }),
        );
        peer.readyAt = performance.now();
        ready();
      }
      return;
    }
    if (type.startsWith('control.')) return; // heartbeats, acks of our dispatches: nothing to do on a lossless link
    const seq = frame.session_seq;
    if (seq === recvBase + 1) {
      recvBase = seq;
      while (early.delete(recvBase + 1)) recvBase++;
    } else if (seq > recvBase) {
      early.add(seq);
    }
    let bitmap = 0;
    for (const s of early) if (s - recvBase - 1 < 31) bitmap |= 1 << (s - recvBase - 1);
    ws.send(ackFrame(frame, { ack_seq: recvBase, ack_bitmap: bitmap, recv_window: window }));
    if (type === 'biz.exec.feedback') {
      counts.feedback++;
      return;
    }
    if (type === 'biz.exec.result' || type === 'biz.exec.error') {
      const task = pending.get(frame.corr);
      if (!task) return;
      pending.delete(frame.corr);
      if (type === 'biz.exec.error' || frame.payload.status !== 'SUCCEEDED') counts.errors++;
      else counts.results++;
      task(frame);
    }
  };

  server.on('connection', (socket) => {
    if (ws) {
      socket.close(1013, 'one worker per bench peer');
      return;
    }
    ws = socket;
    socket.on('message', (data) => onFrame(data.toString()));
    socket.on('close', () => {
      if (ws === socket) peer.closed = true;
    });
  });

  /** Sends one dispatch; resolves with the worker's answer frame. */
  const dispatch = (payload) =>
    new Promise((resolve) => {
      const id = `d${++frameId}`;
      pending.set(id, resolve);
      ws.send(
        JSON.stringify({
          type: 'biz.exec.dispatch',
          id,
          ts: ts(),
          tenant,
          sender: SENDER,
          session_seq: ++sendSeq,
          ack: { request: true },
          payload,
        }),
      );
    });

  const peer = {
    url,
    token,
    readyAt: undefined,
    closed: false,
    counts,
    whenReady: (timeoutMs = 15_000) =>
      Promise.race([
        whenReady,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`no session within ${timeoutMs} ms`)), timeoutMs).unref()),
      ]),
    dispatch,
    /**
     * Runs `count` tasks with `concurrency` in flight; `payload(i)` builds each
     * dispatch payload. Resolves with tasks/s and latency percentiles (ms).
     */
    async run({ count, concurrency, payload, first = 0 }) {
      const latencies = new Float64Array(count);
      let next = 0;
      let done = 0;
      let failed;
      const started = performance.now();
      await new Promise((resolve) => {
        const launch = () => {
          const i = next++;
          const sent = performance.now();
          void dispatch(payload(first + i)).then((answer) => {
            latencies[i] = performance.now() - sent;
            if (answer.type !== 'biz.exec.result' || answer.payload.status !== 'SUCCEEDED') {
              failed ??= `${answer.type} ${JSON.stringify(answer.payload).slice(0, 300)}`;
            }
            done++;
            if (done === count) resolve();
            else if (next < count) launch();
          });
        };
        for (let k = 0; k < Math.min(concurrency, count); k++) launch();
      });
      const seconds = (performance.now() - started) / 1000;
      if (failed) throw new Error(`a bench task did not succeed: ${failed}`);
      const sorted = Array.from(latencies).sort((a, b) => a - b);
      return { rate: count / seconds, p50: percentile(sorted, 50), p99: percentile(sorted, 99), seconds };
    },
    async close() {
      for (const client of server.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return peer;
}
