import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ErrorCode } from '@astraflow/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readTlsFiles } from './tls-files.js';
import { createWsTransport } from './ws-transport.js';
import { closeAllPeers, recorder, rejection, startWsPeer } from './test-peers.test.helpers.js';

const hasOpenssl = spawnSync('openssl', ['version']).error === undefined;
const skipNote = hasOpenssl ? '' : ' [skipped: openssl is not installed, cannot make a test certificate]';

let dir = '';
let cert = '';
let key = '';

beforeAll(() => {
  if (!hasOpenssl) return;
  dir = mkdtempSync(join(tmpdir(), 'astraflow-transport-ws-tls-'));
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  key = readFileSync(join(dir, 'key.pem'), 'utf8');
});

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await closeAllPeers();
});

describe('createWsTransport over wss://', () => {
  it.skipIf(!hasOpenssl)(`trusts a self-signed server through the ca option${skipNote}`, async () => {
    const peer = await startWsPeer({ cert, key });
    const tls = await readTlsFiles({ caFile: join(dir, 'cert.pem') });
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url, tls }).connect(rec);
    const { socket } = await peer.nextConnection();
    socket.on('message', (data) => socket.send(data.toString()));
    await conn.send('over tls');
    expect(await rec.nextMessage()).toBe('over tls');
    conn.close();
    await rec.closed;
  });

  it.skipIf(!hasOpenssl)(`refuses an untrusted certificate with a TLS network failure${skipNote}`, async () => {
    const peer = await startWsPeer({ cert, key });
    const err = await rejection(createWsTransport({ url: peer.url }).connect(recorder()));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure: 'network', url: peer.url });
    expect(err.message).toContain('TLS');
    expect(peer.wss.clients.size).toBe(0);
  });

  it.skipIf(!hasOpenssl)(`connects to an untrusted server when rejectUnauthorized is false${skipNote}`, async () => {
    const peer = await startWsPeer({ cert, key });
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url, tls: { rejectUnauthorized: false } }).connect(rec);
    expect(conn.isOpen).toBe(true);
    conn.close();
    expect(await rec.closed).toMatchObject({ code: 1000, failure: 'none' });
  });

  it.skipIf(!hasOpenssl)(`presents a client certificate for mTLS${skipNote}`, async () => {
    const peer = await startWsPeer({ cert, key, clientCa: cert });
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url, tls: { ca: cert, cert, key } }).connect(rec);
    const { request } = await peer.nextConnection();
    const socket = request.socket as TLSSocket;
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subject.CN).toBe('localhost');
    conn.close();
    await rec.closed;
  });
});
