import { describe, expect, it } from 'vitest';
import { createAjvOracle } from './ajv-oracle.test.util.js';
import { AstraError } from './astra-error.js';
import { buildFrame, type BuildFrameOptions } from './build-frame.js';
import { ErrorCode } from './error-codes.js';
import { FrameType, type KnownFrameType } from './frame-types.js';
import { parseFrame } from './parse-frame.js';
import { suites } from './payload-corpus.test.util.js';

const base: BuildFrameOptions = { sender: { role: 'worker', id: 'w-1' }, tenant: 'default' };
const heartbeat = { healthy: true, metrics: { inflight: 0 } };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function thrown(fn: () => unknown): AstraError {
  try {
    fn();
  } catch (err) {
    if (AstraError.isInstance(err)) return err;
    throw err;
  }
  throw new Error('expected an AstraError, nothing was thrown');
}

describe('buildFrame: envelope fields', () => {
  it('fills type, a UUID id, the current time, tenant, sender and payload, and nothing else', () => {
    const before = Date.now();
    const frame = buildFrame(FrameType.HEARTBEAT, heartbeat, base);
    const after = Date.now();
    expect(Object.keys(frame).sort()).toEqual(['id', 'payload', 'sender', 'tenant', 'ts', 'type']);
    expect(frame.type).toBe(FrameType.HEARTBEAT);
    expect(frame.id).toMatch(UUID);
    expect(frame.tenant).toBe('default');
    expect(frame.sender).toEqual({ role: 'worker', id: 'w-1' });
    expect(frame.payload).toEqual(heartbeat);
    expect(frame.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(frame.ts)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(frame.ts)).toBeLessThanOrEqual(after);
  });

  it('gives every frame its own id', () => {
    const ids = new Set(Array.from({ length: 200 }, () => buildFrame(FrameType.HEARTBEAT, heartbeat, base).id));
    expect(ids.size).toBe(200);
  });

  it('uses a given id, and a given ts as a Date or as text', () => {
    const date = new Date('2024-05-01T12:00:00.000Z');
    expect(buildFrame(FrameType.HEARTBEAT, heartbeat, { ...base, id: 'hb-7', ts: date })).toMatchObject({
      id: 'hb-7',
      ts: '2024-05-01T12:00:00.000Z',
    });
    expect(buildFrame(FrameType.HEARTBEAT, heartbeat, { ...base, ts: '2024-05-01T14:00:00+02:00' }).ts).toBe(
      '2024-05-01T14:00:00+02:00',
    );
  });

  it('sets corr, seq, session_seq and flags only when given, nulls included', () => {
    const frame = buildFrame(
      FrameType.EXEC_ERROR,
      { code: 'E.TIMEOUT', message: 'late' },
      {
        ...base,
        corr: 'dispatch-1',
        seq: 4,
        sessionSeq: 9,
        flags: ['retry'],
      },
    );
    expect(frame).toMatchObject({ corr: 'dispatch-1', seq: 4, session_seq: 9, flags: ['retry'] });
    expect('sessionSeq' in frame).toBe(false);
    const nulls = buildFrame(FrameType.HEARTBEAT, heartbeat, { ...base, corr: null, seq: null });
    expect(nulls.corr).toBeNull();
    expect(nulls.seq).toBeNull();
    expect('session_seq' in nulls).toBe(false);
    const bare = buildFrame(FrameType.HEARTBEAT, heartbeat, base);
    for (const key of ['corr', 'seq', 'session_seq', 'ack', 'flags']) expect(key in bare, key).toBe(false);
  });

  it.each([
    [{ ackRequest: true }, { request: true }],
    [{ ackRequest: false }, { request: false }],
    [{ ackFor: 'frame-3' }, { for: 'frame-3' }],
    [
      { ackFor: 'frame-3', ackRequest: true },
      { for: 'frame-3', request: true },
    ],
  ])('builds ack from %j', (options, ack) => {
    expect(buildFrame(FrameType.ACK, { ok: true }, { ...base, ...options }).ack).toEqual(ack);
  });
});

describe('buildFrame: validation', () => {
  it('throws E.FRAME.INVALID naming the type and the bad payload paths', () => {
    const error = thrown(() => buildFrame(FrameType.HEARTBEAT, { healthy: true, metrics: { inflight: -1 } }, base));
    expect(error).toBeInstanceOf(AstraError);
    expect(error.code).toBe(ErrorCode.FRAME_INVALID);
    expect(error.details).toEqual({ type: FrameType.HEARTBEAT });
    expect(error.message).toContain('control.heartbeat');
    expect(error.message).toContain('payload.metrics.inflight');
  });

  it('refuses unknown payload members of known types', () => {
    const payload = { code: 'E.X', message: 'm', stack: 'at x' } as unknown as { code: string; message: string };
    expect(thrown(() => buildFrame(FrameType.EXEC_ERROR, payload, base)).message).toContain('stack');
  });

  it.each([
    ['an empty tenant', { tenant: '' }, 'tenant'],
    ['an empty sender id', { sender: { role: 'worker' as const, id: '' } }, 'sender.id'],
    ['a negative session_seq', { sessionSeq: -1 }, 'session_seq'],
    ['a fractional seq', { seq: 1.5 }, 'seq'],
    ['a ts without a zone', { ts: '2024-05-01T12:00:00' }, 'ts'],
    ['an empty flag', { flags: [''] }, 'flags.0'],
    ['an empty id', { id: '' }, 'id'],
  ])('refuses %s in the envelope', (_name, options, path) => {
    const error = thrown(() => buildFrame(FrameType.HEARTBEAT, heartbeat, { ...base, ...options }));
    expect(error.code).toBe(ErrorCode.FRAME_INVALID);
    expect(error.message).toContain(`${path}:`);
  });

  it('lets ext.* payloads through unchecked, as long as they are objects', () => {
    const frame = buildFrame('ext.acme.ping', { anything: [1, 2] }, base);
    expect(frame.payload).toEqual({ anything: [1, 2] });
    const notObject = 'text' as unknown as Record<string, unknown>;
    expect(thrown(() => buildFrame('ext.acme.ping', notObject, base)).message).toContain('payload:');
  });
});

describe('buildFrame: output meets the normative schemas', () => {
  const oracle = createAjvOracle();

  it.each(Object.values(FrameType))('%s frames pass ajv (envelope + payload) and parse back unchanged', (type) => {
    for (const [name, payload] of Object.entries(suites[type as KnownFrameType].valid)) {
      const frame = buildFrame(type, payload as never, {
        ...base,
        corr: 'c-1',
        seq: 1,
        sessionSeq: type.startsWith('control.') ? undefined : 1,
        ackRequest: true,
      });
      // pkg.event "uninstalled" and node manifests are our (ext) items, covered by the cross-check.
      const result = oracle.frame(frame);
      expect(result.valid, `${name}: ${result.errors.join('; ')}`).toBe(true);
      const parsed = parseFrame(JSON.stringify(frame));
      expect(parsed).toEqual({ ok: true, frame });
    }
  });
});
