#!/usr/bin/env node
// The benchmark's ceiling: the least a worker can do and still speak the
// protocol, over the same `ws` library, in its own process. It handshakes,
// registers, waits for the session accept, then answers every dispatch with
// its ack and one SUCCEEDED result carrying the echoed message (numbered,
// asking for an ack, corr = the dispatch id). No validation, no queues, no
// retransmission: whatever the real worker does beyond this is its overhead.
//
//   node ceiling-responder.mjs <ws-url> <token>
import { WebSocket } from 'ws';

const [url, token] = process.argv.slice(2);
const SENDER = { role: 'worker', id: 'ceiling' };
const TENANT = 'default';
let frameId = 0;
let sendSeq = 0;
let recvBase = 0;
const ts = () => new Date().toISOString();
const frame = (type, payload, extra) =>
  JSON.stringify({ type, id: `${type}-${++frameId}`, ts: ts(), tenant: TENANT, sender: SENDER, ...extra, payload });

const ws = new WebSocket(url, { perMessageDeflate: false, headers: { authorization: `Bearer ${token}` } });
ws.on('open', () => {
  ws.send(
    frame(
      'control.handshake',
      {
        protocol: 1,
        auth: { mode: 'token', token },
        worker: { worker_name: 'ceiling', version: '0.0.0', hostname: 'localhost' },
      },
      { ack: { request: true } },
    ),
  );
});
ws.on('message', (data) => {
  const f = JSON.parse(data.toString());
  switch (f.type) {
    case 'control.ack':
      if (f.payload.for?.startsWith('control.handshake-')) {
        ws.send(
          frame(
            'control.register',
            {
              capabilities: { concurrency: { max_parallel: 64 }, runtimes: ['node'], features: [] },
              payload_types: ['biz.exec.dispatch'],
              packages: [],
              manifests: [],
            },
            { ack: { request: true } },
          ),
        );
      }
      return;
    case 'control.session.accept':
      return;
    case 'biz.exec.dispatch': {
      if (f.session_seq === recvBase + 1) recvBase = f.session_seq;
      ws.send(
        frame(
          'control.ack',
          { ok: true, for: f.id, ack_seq: recvBase, ack_bitmap: 0, recv_window: 64 },
          { corr: f.corr ?? null, ack: { for: f.id } },
        ),
      );
      const p = f.payload;
      ws.send(
        frame(
          'biz.exec.result',
          {
            run_id: p.run_id,
            task_id: p.task_id,
            status: 'SUCCEEDED',
            result: { echo: p.parameters?.message ?? '' },
            duration_ms: 0,
          },
          { corr: f.id, session_seq: ++sendSeq, ack: { request: true } },
        ),
      );
      return;
    }
    default:
  }
});
ws.on('close', () => process.exit(0));
ws.on('error', (err) => {
  process.stderr.write(`ceiling responder: ${err.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => ws.close());
