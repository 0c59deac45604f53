import { AstraError, ErrorCode, FrameType, type Frame, type FrameError } from '@astraflow/protocol';
import { createDummyTransport, type DummyTransport } from '@astraflow/transport-dummy';
import { describe, expect, it } from 'vitest';
import type { Session } from './session.js';
import type { SessionConfig } from './session-config.js';
import {
  captureLogger,
  numberedFrame,
  sessionTestFixture,
  startTestSession,
  testDispatch,
  testSessionConfig,
} from './session.test-helper.js';

const fixture = sessionTestFixture('astra-session-limits-');
const sessions = fixture.sessions;

const dispatch = testDispatch;

function start(
  transport: DummyTransport,
  overrides: Partial<SessionConfig> = {},
  extra: Parameters<typeof startTestSession>[2] = {},
): Session {
  const session = startTestSession(transport, testSessionConfig(fixture.dir, overrides), extra);
  sessions.push(session);
  return session;
}

const taskOf = (frame: Frame): string => (frame.payload as { task_id: string }).task_id;
const ackSeqs = (transport: DummyTransport): number[] =>
  transport.sent.filter((f) => f.type === FrameType.ACK).map((f) => (f.payload as { ack_seq?: number }).ack_seq ?? -1);

describe('no zombie windows: every numbered frame takes its turn', () => {
  it('acks an oversized frame, an envelope with an unknown key and a bad payload, hands them to the sink as invalid, and delivers what follows', async () => {
    const transport = createDummyTransport();
    const invalid: Array<{ frame: Frame; error: FrameError }> = [];
    const session = start(
      transport,
      { max_frame_bytes: 4096 },
      { sink: { deliver: (d) => void (d.kind === 'invalid' && invalid.push({ frame: d.frame, error: d.error })) } },
    );
    await session.whenReady(5000);
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 1, dispatch('huge', { pad: 'x'.repeat(8192) })));
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 2, dispatch('odd-key'), { surprise: true }));
    transport.inject(numberedFrame(FrameType.PKG_INSTALL, 3, { name: 'pkg-a', version: 42 }));
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 4, dispatch('after')));
    expect(taskOf(await session.receive())).toBe('after');
    await transport.waitFor((f) => f.type === FrameType.ACK && (f.payload as { ack_seq?: number }).ack_seq === 4);
    expect(invalid.map((i) => i.error.stage)).toEqual(['size', 'envelope', 'payload']);
    expect(invalid.map((i) => i.frame.id)).toEqual(['f-1', 'f-2', 'f-3']);
    // Identifiers survive, so the command can be answered.
    expect(taskOf(invalid[0]!.frame)).toBe('huge');
    expect((invalid[2]!.frame.payload as { name: string }).name).toBe('pkg-a');
    expect(invalid[0]!.error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(session.stats.invalidFramesIn).toBe(3);
  });

  it('logs a 50 000-deep parameter object at DEBUG and still delivers the frames behind it', async () => {
    const transport = createDummyTransport();
    const { logger, lines } = captureLogger();
    const session = start(transport, { max_frame_bytes: 1024 * 1024 }, { logger });
    await session.whenReady(5000);
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const text = numberedFrame(FrameType.EXEC_DISPATCH, 1, dispatch('deep')).replace('"parameters":{}', `"parameters":${deep}`);
    transport.inject(text);
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 2, dispatch('next')));
    expect(taskOf(await session.receive())).toBe('deep');
    expect(taskOf(await session.receive())).toBe('next');
    expect(lines.some((l) => l.includes('"frame in"') && l.includes('[too deep]'))).toBe(true);
  });

  it('resets the session, says healthy: false and delivers the held frames when a missing frame never comes', async () => {
    const transport = createDummyTransport();
    const session = start(transport, { session_recv_stall_seconds: 0.2 });
    await session.whenReady(5000);
    const first = session.sessionId;
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 2, dispatch('behind-gap')));
    expect(taskOf(await session.receive())).toBe('behind-gap');
    const beat = await transport.waitFor((f) => f.type === FrameType.HEARTBEAT);
    expect((beat.payload as { healthy: boolean }).healthy).toBe(false);
    await transport.waitFor((f) => f.type === FrameType.HANDSHAKE && transport.sent.indexOf(f) > 1);
    await session.whenReady(5000);
    await new Promise<void>((resolve) => (session.sessionId !== first ? resolve() : session.once('ready', () => resolve())));
    expect(session.sessionId).not.toBe(first);
    expect(session.stats.recvStalls).toBe(1);
    // The fresh session flows again.
    await transport.send(FrameType.EXEC_DISPATCH, dispatch('fresh'));
    expect(taskOf(await session.receive())).toBe('fresh');
  });
});

describe('outbound frame limit', () => {
  it('refuses a frame over max_outbound_frame_bytes with E.FRAME.TOO_LARGE, sends nothing, and keeps the link', async () => {
    const transport = createDummyTransport();
    const session = start(transport, { max_outbound_frame_bytes: 65_536 });
    await session.whenReady(5000);
    const big = { run_id: 'r', task_id: 't', status: 'SUCCEEDED' as const, result: { blob: 'x'.repeat(70_000) } };
    const err = await session.send(FrameType.EXEC_RESULT, big).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(AstraError.isInstance(err) && err.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect((err as AstraError).message).toMatch(/too large \(\d+ bytes, limit 65536\)/);
    expect(session.stats.outboundTooLarge).toBe(1);
    const receipt = await session.send(FrameType.EXEC_RESULT, { ...big, result: { ok: true } });
    await receipt.acked;
    expect(transport.delivered.map((f) => f.id)).toEqual([receipt.frame.id]);
  });
});

describe('acks checked against what was sent', () => {
  it('ignores and counts an ack for frames never sent, logging it once', async () => {
    const transport = createDummyTransport();
    const { logger, lines } = captureLogger();
    const session = start(transport, {}, { logger });
    await session.whenReady(5000);
    const impossible = (n: number) => ({
      type: FrameType.ACK,
      id: `bogus-ack-${n}`,
      ts: new Date().toISOString(),
      tenant: 'default',
      sender: { role: 'scheduler', id: 'sched' },
      payload: { ok: true, ack_seq: 1000 + n, ack_bitmap: 0, recv_window: 8 },
    });
    transport.inject(impossible(1));
    transport.inject(impossible(2));
    await new Promise((r) => setTimeout(r, 30));
    expect(session.stats.impossibleAcks).toBe(2);
    expect(lines.filter((l) => l.includes('"level":"warn"') && l.includes('never sent'))).toHaveLength(1);
    // The window still works: the next frame is sent with seq 1 and acked for real.
    const receipt = await session.send(FrameType.EXEC_RESULT, { run_id: 'r', task_id: 't', status: 'SUCCEEDED', result: {} });
    expect(receipt.frame.session_seq).toBe(1);
    await receipt.acked;
  });
});

describe('secrets a scheduler echoes', () => {
  it('never logs the token or the session token from a reset reason, and caps retry_after_ms', async () => {
    const transport = createDummyTransport({ token: 'secret-token' });
    const { logger, lines } = captureLogger();
    const session = start(transport, { reconnect_max_delay_seconds: 1 }, { logger });
    await session.whenReady(5000);
    transport.reset('E.SESSION.STALE_BINDING', 'you sent secret-token, go away', 2e9);
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('reconnecting after delay')); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const resetLine = lines.find((l) => l.includes('session reset by scheduler'));
    expect(resetLine).toContain('***');
    const delays = lines
      .filter((l) => l.includes('reconnecting after delay'))
      .map((l) => (JSON.parse(l) as { delay_ms: number }).delay_ms);
    expect(delays[0]).toBe(600_000);
    for (const line of lines) expect(line).not.toContain('secret-token');
  });
});

describe('acks of numbered frames', () => {
  it('acks every frame it consumes, valid or not', async () => {
    const transport = createDummyTransport();
    const session = start(transport, { max_frame_bytes: 4096 }, { sink: { deliver: () => {} } });
    await session.whenReady(5000);
    transport.inject(numberedFrame(FrameType.EXEC_DISPATCH, 1, dispatch('a'), { extra_key: 1 }));
    await transport.waitFor((f) => f.type === FrameType.ACK && (f.payload as { ack_seq?: number }).ack_seq === 1);
    expect(ackSeqs(transport)).toContain(1);
  });
});
