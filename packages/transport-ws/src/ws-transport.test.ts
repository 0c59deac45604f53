import { AstraError, ErrorCode, type TransportConnection } from '@astraflow/protocol';
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createWsTransport } from './ws-transport.js';
import {
  captureLogger,
  closeAllPeers,
  closedPort,
  recorder,
  rejection,
  sleep,
  startProxy,
  startRawUpgradePeer,
  startRefusingPeer,
  startSilentPeer,
  startWsPeer,
} from './test-peers.test.helpers.js';

afterEach(async () => {
  await closeAllPeers();
});

const open: TransportConnection[] = [];
afterEach(() => {
  for (const c of open.splice(0)) if (c.isOpen) c.close();
});

describe('createWsTransport: connecting', () => {
  it('opens a connection and round-trips text frames', async () => {
    const peer = await startWsPeer();
    const transport = createWsTransport({ url: peer.url });
    expect(transport.name).toBe('websocket');
    const rec = recorder();
    const conn = await transport.connect(rec);
    open.push(conn);
    const { socket } = await peer.nextConnection();
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));

    expect(conn.isOpen).toBe(true);
    await conn.send('{"hello":"wörld"}');
    expect(await rec.nextMessage()).toBe('{"hello":"wörld"}');
  });

  it('sends the bearer token and extra headers on the upgrade request', async () => {
    const peer = await startWsPeer();
    const transport = createWsTransport({
      url: peer.url,
      token: 'tok-123',
      headers: { 'X-Worker': 'w-1', authorization: 'Basic overridden' },
    });
    open.push(await transport.connect(recorder()));
    const { request } = await peer.nextConnection();
    expect(request.headers.authorization).toBe('Bearer tok-123');
    expect(request.headers['x-worker']).toBe('w-1');
  });

  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [400, 'protocol'],
    [404, 'protocol'],
    [426, 'protocol'],
    [500, 'network'],
    [503, 'network'],
  ])('classifies a refused upgrade with HTTP %i as %s', async (status, failure) => {
    const url = await startRefusingPeer(status);
    const err = await rejection(createWsTransport({ url }).connect(recorder()));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure, status, url });
    expect(err.message).toContain(`HTTP ${status}`);
  });

  it('classifies a server that breaks the WebSocket handshake as protocol', async () => {
    const url = await startRawUpgradePeer(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bogus\r\n\r\n',
    );
    const err = await rejection(createWsTransport({ url }).connect(recorder()));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure: 'protocol', url });
    expect(err.message).toMatch(/Sec-WebSocket-Accept/);
  });

  it('classifies a refused TCP connection as network', async () => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/ws`;
    const err = await rejection(createWsTransport({ url }).connect(recorder()));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure: 'network', url });
    expect(err.details?.['status']).toBeUndefined();
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('gives up after connectTimeoutMs when the server never answers the upgrade', async () => {
    const url = await startSilentPeer();
    const err = await rejection(createWsTransport({ url, connectTimeoutMs: 150 }).connect(recorder()));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure: 'network', timedOut: true });
    expect(err.message).toMatch(/timed out after 150 ms/);
  });

  it('aborts a pending attempt when the signal fires', async () => {
    const url = await startSilentPeer();
    const controller = new AbortController();
    const pending = createWsTransport({ url, connectTimeoutMs: 5000 }).connect(recorder(), {
      signal: controller.signal,
    });
    await sleep(20);
    controller.abort();
    const err = await rejection(pending);
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(err.details).toMatchObject({ failure: 'network', aborted: true });
  });

  it('rejects at once with an already aborted signal', async () => {
    const peer = await startWsPeer();
    const err = await rejection(createWsTransport({ url: peer.url }).connect(recorder(), { signal: AbortSignal.abort() }));
    expect(err.details).toMatchObject({ aborted: true });
    expect(peer.wss.clients.size).toBe(0);
  });

  it('ignores the signal once connected', async () => {
    const peer = await startWsPeer();
    const controller = new AbortController();
    const conn = await createWsTransport({ url: peer.url }).connect(recorder(), { signal: controller.signal });
    open.push(conn);
    controller.abort();
    await sleep(20);
    expect(conn.isOpen).toBe(true);
  });
});

describe('createWsTransport: batched writes', () => {
  it('writes the frames sent in one event-loop turn with one writev, and each later turn on its own', async () => {
    const peer = await startWsPeer();
    const conn = await createWsTransport({ url: peer.url, pingIntervalMs: 0 }).connect(recorder());
    open.push(conn);
    const { socket } = await peer.nextConnection();
    const got: string[] = [];
    socket.on('message', (data) => got.push(String(data)));
    const writev = vi.spyOn(Socket.prototype, '_writev');
    try {
      await Promise.all([conn.send('one'), conn.send('two'), conn.send('three')]);
      expect(writev).toHaveBeenCalledTimes(1);
      await conn.send('four');
      await vi.waitFor(() => expect(got).toEqual(['one', 'two', 'three', 'four']));
    } finally {
      writev.mockRestore();
    }
  });
});

describe('createWsTransport: inbound frames', () => {
  it('decodes binary frames as UTF-8 text', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    open.push(await createWsTransport({ url: peer.url }).connect(rec));
    const { socket } = await peer.nextConnection();
    socket.send(Buffer.from('{"bin":"ärger"}', 'utf8'), { binary: true });
    expect(await rec.nextMessage()).toBe('{"bin":"ärger"}');
  });

  it('hands on a frame over maxFrameBytes with a warning (the session refuses, acks and answers it), and keeps the connection', async () => {
    const peer = await startWsPeer();
    const { logger, entries } = captureLogger();
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url, maxFrameBytes: 1024, logger }).connect(rec);
    open.push(conn);
    const { socket } = await peer.nextConnection();
    socket.send('x'.repeat(1500));
    socket.send('small');

    expect(await rec.nextMessage()).toHaveLength(1500);
    expect(await rec.nextMessage()).toBe('small');
    expect(conn.isOpen).toBe(true);
    expect(rec.closes).toHaveLength(0);
    const warn = entries.find((e) => e.level === 'warn');
    expect(warn?.fields).toMatchObject({ size: 1500, limit: 1024 });
  });

  it('accepts a frame of exactly maxFrameBytes', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    open.push(await createWsTransport({ url: peer.url, maxFrameBytes: 1024 }).connect(rec));
    const { socket } = await peer.nextConnection();
    socket.send('y'.repeat(1024));
    expect(await rec.nextMessage()).toHaveLength(1024);
  });

  it('closes with 1009 (protocol) for a frame above the hard ceiling', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url, maxFrameBytes: 1024 }).connect(rec);
    const { socket } = await peer.nextConnection();
    socket.send('z'.repeat(4 * 1024 + 1));

    const info = await rec.closed;
    expect(info.code).toBe(1009);
    expect(info.failure).toBe('protocol');
    expect(info.error?.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(rec.messages).toEqual([]);
    expect(conn.isOpen).toBe(false);
  });

  it('survives an onMessage handler that throws', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    let calls = 0;
    const conn = await createWsTransport({ url: peer.url }).connect({
      onMessage: (text) => {
        calls += 1;
        if (calls === 1) throw new Error('handler bug');
        rec.onMessage(text);
      },
      onClose: rec.onClose,
    });
    open.push(conn);
    const { socket } = await peer.nextConnection();
    socket.send('first');
    socket.send('second');
    expect(await rec.nextMessage()).toBe('second');
    expect(conn.isOpen).toBe(true);
  });
});

describe('createWsTransport: closing', () => {
  it.each([
    [1000, 'none'],
    [1002, 'protocol'],
    [4401, 'auth'],
    [4403, 'auth'],
    [1011, 'network'],
  ])('reports a server close with %i as %s, exactly once', async (code, failure) => {
    const peer = await startWsPeer();
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url }).connect(rec);
    const { socket } = await peer.nextConnection();
    socket.close(code, 'bye now');

    const info = await rec.closed;
    expect(info).toMatchObject({ code, reason: 'bye now', failure });
    expect(conn.isOpen).toBe(false);
    await sleep(20);
    expect(rec.closes).toHaveLength(1);
  });

  it('reports 1006 (network) when the server drops the socket', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    await createWsTransport({ url: peer.url }).connect(rec);
    const { socket } = await peer.nextConnection();
    socket.terminate();
    expect(await rec.closed).toMatchObject({ code: 1006, failure: 'network' });
  });

  it('closes gracefully with 1000 by default and then refuses to send', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    const conn = await createWsTransport({ url: peer.url }).connect(rec);
    const { socket } = await peer.nextConnection();
    const serverSaw = new Promise<[number, string]>((resolve) =>
      socket.on('close', (code, reason) => resolve([code, reason.toString()])),
    );

    conn.close(undefined, 'shutting down');
    expect(conn.isOpen).toBe(false);
    const err = await rejection(conn.send('late'));
    expect(err.code).toBe(ErrorCode.TRANSPORT_FAILURE);

    expect(await serverSaw).toEqual([1000, 'shutting down']);
    expect(await rec.closed).toMatchObject({ code: 1000, failure: 'none' });
    conn.close();
    await sleep(20);
    expect(rec.closes).toHaveLength(1);
  });

  it('terminates when the peer does not finish the close handshake within 2 s', async () => {
    const peer = await startWsPeer();
    const proxy = await startProxy(peer.port);
    const rec = recorder();
    const conn = await createWsTransport({ url: `ws://127.0.0.1:${proxy.port}/ws`, pingIntervalMs: 0 }).connect(rec);
    proxy.stall();
    const started = Date.now();
    conn.close(4000, 'going');
    const info = await rec.closed;
    expect(info).toMatchObject({ code: 1006, failure: 'network', reason: 'close handshake timed out' });
    // The default close timeout is 2 s; it must not fire early.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });

  it('rejects a close code that a close frame cannot carry', async () => {
    const peer = await startWsPeer();
    const conn = await createWsTransport({ url: peer.url }).connect(recorder());
    open.push(conn);
    expect(() => conn.close(1006)).toThrowError(/invalid close code 1006/);
    expect(conn.isOpen).toBe(true);
  });
});

describe('createWsTransport: keep-alive', () => {
  it('detects a peer that stopped answering pings and reports 1006 keep-alive timeout', async () => {
    const peer = await startWsPeer();
    const proxy = await startProxy(peer.port);
    const rec = recorder();
    const conn = await createWsTransport({ url: `ws://127.0.0.1:${proxy.port}/ws`, pingIntervalMs: 100 }).connect(rec);
    await sleep(250);
    expect(conn.isOpen).toBe(true);

    proxy.stall();
    const info = await rec.closed;
    expect(info).toMatchObject({ code: 1006, failure: 'network', reason: 'keep-alive timeout' });
    expect(info.error?.code).toBe(ErrorCode.TRANSPORT_FAILURE);
    expect(conn.isOpen).toBe(false);
  });

  it('keeps a responsive connection open and pings it', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    // The pong must come back within one interval; 300 ms leaves room for a loaded machine (CI runs
    // several suites at once) while still seeing several pings within the wait.
    const conn = await createWsTransport({ url: peer.url, pingIntervalMs: 300 }).connect(rec);
    open.push(conn);
    const { socket } = await peer.nextConnection();
    let pings = 0;
    socket.on('ping', () => {
      pings += 1;
    });
    await sleep(1_000);
    expect(pings).toBeGreaterThanOrEqual(2);
    expect(conn.isOpen).toBe(true);
    expect(rec.closes).toHaveLength(0);
  });
});

describe('createWsTransport: secrets and options', () => {
  const token = 'tok-SECRET-4242';

  it('never puts the token in errors or logs', async () => {
    const { logger, entries } = captureLogger();
    const refusing = await startRefusingPeer(401);
    const port = await closedPort();
    const urls = [`${refusing}?token=${token}`, `ws://user:${token}@127.0.0.1:${port}/ws?access_token=${token}`];
    const errors: AstraError[] = [];
    for (const url of urls) {
      errors.push(await rejection(createWsTransport({ url, token, logger }).connect(recorder())));
    }
    expect(errors[0]?.details).toMatchObject({ failure: 'auth', status: 401 });
    expect(errors[1]?.details).toMatchObject({ failure: 'network' });
    for (const err of errors) {
      expect(err.message).not.toContain(token);
      expect(JSON.stringify(err.toJSON())).not.toContain(token);
    }
    expect(entries.length).toBeGreaterThan(0);
    expect(JSON.stringify(entries)).not.toContain(token);
  });

  it('scrubs the token from close reasons', async () => {
    const peer = await startWsPeer();
    const rec = recorder();
    await createWsTransport({ url: peer.url, token }).connect(rec);
    const { socket } = await peer.nextConnection();
    socket.close(4401, `bad token ${token}`);
    const info = await rec.closed;
    expect(info.failure).toBe('auth');
    expect(info.reason).not.toContain(token);
  });

  it.each([
    [{ url: 'http://127.0.0.1:1/ws' }, /ws:\/\/ or wss:\/\//],
    [{ url: 'not a url' }, /not a valid URL/],
    [{ url: 'ws://127.0.0.1:1/ws', pingIntervalMs: -1 }, /pingIntervalMs/],
    [{ url: 'ws://127.0.0.1:1/ws', maxFrameBytes: 0 }, /maxFrameBytes/],
    [{ url: 'ws://127.0.0.1:1/ws', connectTimeoutMs: 1.5 }, /connectTimeoutMs/],
    [{ url: 'ws://127.0.0.1:1/ws', headers: { 'bad header': 'x' } }, /header name/],
    [{ url: 'ws://127.0.0.1:1/ws', headers: { 'X-A': 'a\r\nb' } }, /line breaks/],
  ])('refuses invalid options %j', (options, message) => {
    expect(() => createWsTransport(options)).toThrowError(message);
    try {
      createWsTransport(options);
    } catch (err) {
      expect((err as AstraError).code).toBe(ErrorCode.CONFIG_INVALID);
    }
  });

  it('refuses a token with a line break without echoing it', () => {
    const bad = 'abc\r\ndef-secret';
    let thrown: unknown;
    try {
      createWsTransport({ url: 'ws://127.0.0.1:1/ws', token: bad });
    } catch (err) {
      thrown = err;
    }
    expect(AstraError.isInstance(thrown)).toBe(true);
    expect((thrown as AstraError).code).toBe(ErrorCode.CONFIG_INVALID);
    expect((thrown as AstraError).message).not.toContain('def-secret');
  });
});
