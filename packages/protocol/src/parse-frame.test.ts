import { describe, expect, it } from 'vitest';
import { ErrorCode } from './error-codes.js';
import { FrameType } from './frame-types.js';
import { parseFrame, type ParseFrameResult } from './parse-frame.js';
import { suites, TS } from './payload-corpus.test.util.js';
import { createRng, type Rng } from './random.test.util.js';

const heartbeat = {
  type: FrameType.HEARTBEAT,
  id: 'hb-1',
  ts: TS,
  tenant: 'default',
  sender: { role: 'worker', id: 'w-1' },
  payload: { healthy: true, metrics: { inflight: 2, queue_depth: 5 } },
};

function failure(result: ParseFrameResult) {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.frame)}`);
  return result.error;
}

describe('parseFrame: text that is not a frame', () => {
  it.each(['', 'not json', '{', '{"type":', "{'single':'quotes'}", 'undefined', '\u0000'])(
    'refuses %j at the json stage',
    (text) => {
      const error = failure(parseFrame(text));
      expect(error.code).toBe(ErrorCode.FRAME_INVALID);
      expect(error.stage).toBe('json');
      expect(error.message).toMatch(/^not JSON: /);
      expect(error.type).toBeUndefined();
    },
  );

  it.each(['42', '"a string"', 'null', 'true', '[]', '[{"type":"control.heartbeat"}]'])(
    'refuses the non-object JSON %s at the envelope stage',
    (text) => {
      const error = failure(parseFrame(text));
      expect(error.code).toBe(ErrorCode.FRAME_INVALID);
      expect(error.stage).toBe('envelope');
      expect(error.issues?.length).toBeGreaterThan(0);
    },
  );

  it.each([undefined, 17, Symbol('s'), 10n, () => 1, new ArrayBuffer(4)])('refuses the non-text value %s', (value) => {
    expect(failure(parseFrame(value)).stage).toBe('envelope');
  });
});

describe('parseFrame: envelope errors', () => {
  it('names each missing field, and keeps the type and id it could read', () => {
    const error = failure(parseFrame(JSON.stringify({ type: FrameType.HEARTBEAT, id: 'hb-9', payload: {} })));
    expect(error.stage).toBe('envelope');
    expect(error.type).toBe(FrameType.HEARTBEAT);
    expect(error.id).toBe('hb-9');
    expect(error.issues?.map((i) => i.path).sort()).toEqual(['sender', 'tenant', 'ts']);
    expect(error.message).toMatch(/^invalid envelope: /);
    expect(error.message).toContain('tenant');
  });

  it('reports nested paths and unknown top-level members', () => {
    const error = failure(parseFrame(JSON.stringify({ ...heartbeat, sender: { role: 'robot', id: 'x' }, extra: 1 })));
    const paths = error.issues?.map((i) => i.path) ?? [];
    expect(paths).toContain('sender.role');
    expect(paths.some((p) => p === '' || p === 'extra')).toBe(true);
  });

  it('does not invent a type or id that is not a string', () => {
    const error = failure(parseFrame(JSON.stringify({ type: 5, id: ['x'] })));
    expect(error.type).toBeUndefined();
    expect(error.id).toBeUndefined();
  });

  it('refuses a control frame whose payload is not an object before looking at its schema', () => {
    const error = failure(parseFrame(JSON.stringify({ ...heartbeat, payload: 'healthy' })));
    expect(error.stage).toBe('envelope');
    expect(error.issues?.[0]?.path).toBe('payload');
  });
});

describe('parseFrame: payload errors', () => {
  it('validates the payload by type and prefixes issue paths with "payload"', () => {
    const error = failure(parseFrame(JSON.stringify({ ...heartbeat, payload: { healthy: 'yes', metrics: { inflight: -1 } } })));
    expect(error.code).toBe(ErrorCode.FRAME_INVALID);
    expect(error.stage).toBe('payload');
    expect(error.type).toBe(FrameType.HEARTBEAT);
    expect(error.id).toBe('hb-1');
    expect(error.issues?.map((i) => i.path).sort()).toEqual(['payload.healthy', 'payload.metrics.inflight']);
    expect(error.message).toMatch(/^invalid control\.heartbeat payload: /);
  });

  it('cuts the message to five issues but keeps every issue', () => {
    const payload = {
      run_id: '',
      task_id: '',
      node_id: '',
      node_type: '',
      package_name: '',
      package_version: '',
      parameters: {},
      constraints: {},
    };
    const error = failure(parseFrame(JSON.stringify({ ...heartbeat, type: FrameType.EXEC_DISPATCH, payload })));
    expect(error.issues).toHaveLength(6);
    expect(error.message.split('; ')).toHaveLength(5);
  });
});

describe('parseFrame: accepted frames', () => {
  it('returns the frame with its validated payload, keeping extra heartbeat metrics', () => {
    const result = parseFrame(JSON.stringify(heartbeat));
    expect(result).toEqual({ ok: true, frame: heartbeat });
  });

  it('accepts an already parsed object as well as text and bytes', () => {
    expect(parseFrame(heartbeat).ok).toBe(true);
    expect(parseFrame(Buffer.from(JSON.stringify(heartbeat))).ok).toBe(true);
    expect(parseFrame(new TextEncoder().encode(JSON.stringify(heartbeat))).ok).toBe(true);
  });

  it.each(['ext.acme.telemetry', 'ext.acme.deep.type', 'biz.future.thing', 'control.future'])(
    'lets the unknown type %s pass with its payload untouched',
    (type) => {
      const payload = { anything: [1, { nested: null }], healthy: 'not checked' };
      const result = parseFrame(JSON.stringify({ ...heartbeat, type, payload }));
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.frame.payload).toEqual(payload);
    },
  );

  it('accepts every valid corpus payload of every type', () => {
    for (const [type, suite] of Object.entries(suites)) {
      for (const payload of Object.values(suite.valid)) {
        const result = parseFrame(JSON.stringify({ ...heartbeat, type, payload }));
        expect(result.ok, `${type} ${JSON.stringify(payload)}`).toBe(true);
      }
    }
  });
});

describe('parseFrame: maxBytes', () => {
  const text = JSON.stringify(heartbeat);
  const bytes = Buffer.byteLength(text);

  it('accepts a frame of exactly maxBytes and refuses one byte more', () => {
    expect(parseFrame(text, { maxBytes: bytes }).ok).toBe(true);
    const error = failure(parseFrame(text, { maxBytes: bytes - 1 }));
    expect(error.code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(error.stage).toBe('size');
    expect(error.message).toContain(String(bytes));
  });

  it('counts UTF-8 bytes, not UTF-16 code units', () => {
    const wide = JSON.stringify({ ...heartbeat, id: 'é'.repeat(10) });
    expect(wide.length).toBe(text.length - 'hb-1'.length + 10);
    const wideBytes = wide.length + 10;
    expect(parseFrame(wide, { maxBytes: wideBytes }).ok).toBe(true);
    expect(failure(parseFrame(wide, { maxBytes: wideBytes - 1 })).stage).toBe('size');
  });

  it('checks byte input by its length before decoding it', () => {
    const raw = Buffer.from('x'.repeat(100));
    expect(failure(parseFrame(raw, { maxBytes: 99 })).code).toBe(ErrorCode.FRAME_TOO_LARGE);
    expect(failure(parseFrame(raw, { maxBytes: 100 })).stage).toBe('json');
  });
});

/** A random JSON value, biased towards the shapes a frame has. */
function randomJson(rng: Rng, depth: number): unknown {
  const roll = rng.int(0, depth > 3 ? 4 : 7);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return rng.next() < 0.5;
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53 + 1, 1e308, -0, 7]);
    case 3:
      return rng.pick(['', 'x', FrameType.ACK, 'ext.a.b', TS, 'worker', 'é\u0000\ud800']);
    case 4:
      return rng.pick([[], {}, '']);
    case 5:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const keys = [
        'type',
        'id',
        'ts',
        'tenant',
        'sender',
        'payload',
        'ack',
        'seq',
        'session_seq',
        'corr',
        'flags',
        'role',
        'healthy',
        'metrics',
        'inflight',
        '__proto__',
        'constructor',
      ];
      const out: Record<string, unknown> = {};
      for (let i = rng.int(0, 7); i > 0; i--) out[rng.pick(keys)] = randomJson(rng, depth + 1);
      return out;
    }
  }
}

function expectWellFormed(result: ParseFrameResult): void {
  if (result.ok) {
    expect(typeof result.frame.type).toBe('string');
    return;
  }
  expect([ErrorCode.FRAME_INVALID, ErrorCode.FRAME_TOO_LARGE]).toContain(result.error.code);
  expect(['size', 'json', 'envelope', 'payload']).toContain(result.error.stage);
  expect(result.error.message.length).toBeGreaterThan(0);
}

describe('parseFrame never throws', () => {
  const rng = createRng(0xf4a3e);

  it('on random strings', () => {
    const alphabet = '{}[]":,0123456789.eE+-truefalsn \\u\n\t\u00e9\ud83d';
    for (let i = 0; i < 400; i++) {
      const text = Array.from({ length: rng.int(0, 60) }, () => rng.pick(alphabet)).join('');
      expectWellFormed(parseFrame(text, { maxBytes: 50 }));
    }
  });

  it('on random JSON values, as text and as objects', () => {
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const value = randomJson(rng, 0);
      expectWellFormed(parseFrame(value));
      const text = JSON.stringify(value);
      if (text !== undefined) expectWellFormed(parseFrame(text));
      if (parseFrame(value).ok) accepted++;
    }
    expect(accepted).toBeLessThan(400);
  });

  it('on valid frames with one member replaced by random JSON', () => {
    const keys = Object.keys(heartbeat);
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      const frame: Record<string, unknown> = structuredClone(heartbeat);
      frame[rng.pick(keys)] = randomJson(rng, 1);
      const result = parseFrame(JSON.stringify(frame));
      expectWellFormed(result);
      if (result.ok) accepted++;
    }
    // Some replacements keep the frame valid (e.g. a new id string); most do not.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(400);
  });

  it('on truncated and byte-flipped frame text', () => {
    const text = JSON.stringify(heartbeat);
    for (let i = 0; i < 300; i++) {
      const cut = text.slice(0, rng.int(0, text.length));
      expectWellFormed(parseFrame(cut));
      const bytes = Buffer.from(text);
      bytes[rng.int(0, bytes.length - 1)] = rng.int(0, 255);
      expectWellFormed(parseFrame(bytes));
    }
  });
});
