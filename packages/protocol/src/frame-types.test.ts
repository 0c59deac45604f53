import { describe, expect, it } from 'vitest';
import { FrameType, isControlType, isExtType } from './frame-types.js';
import { isFrameOfType, isKnownFrameType, payloadSchemas, type Frame } from './payload-schemas.js';

describe('frame types', () => {
  it('lists the 18 types of docs/protocol.md §2, each once, each with a payload schema', () => {
    const types = Object.values(FrameType);
    expect(types).toHaveLength(18);
    expect(new Set(types).size).toBe(18);
    expect(Object.keys(payloadSchemas).sort()).toEqual([...types].sort());
    for (const type of types) expect(isKnownFrameType(type)).toBe(true);
  });

  it('knows no other type, including inherited object keys', () => {
    for (const type of ['ext.acme.x', 'biz.exec', 'toString', '__proto__', 'constructor', '']) {
      expect(isKnownFrameType(type)).toBe(false);
    }
  });

  it('isControlType matches control.* only', () => {
    expect(Object.values(FrameType).filter(isControlType)).toHaveLength(8);
    expect(isControlType('control.future')).toBe(true);
    expect(isControlType('biz.exec.dispatch')).toBe(false);
    expect(isControlType('controlx.ack')).toBe(false);
  });

  it.each([
    ['ext.acme.ping', true],
    ['ext.acme.deep.ping', true],
    ['ext.acme', false],
    ['ext.acme.', false],
    ['ext..ping', false],
    ['biz.exec.dispatch', false],
    ['xext.acme.ping', false],
  ])('isExtType(%s) → %s', (type, expected) => {
    expect(isExtType(type)).toBe(expected);
  });

  it('isFrameOfType narrows by type', () => {
    const frame = {
      type: FrameType.DRAIN,
      id: 'd',
      ts: '2024-05-01T12:00:00Z',
      tenant: 't',
      sender: { role: 'scheduler', id: 's' },
      payload: { reason: 'x' },
    } as Frame;
    expect(isFrameOfType(frame, FrameType.DRAIN)).toBe(true);
    expect(isFrameOfType(frame, FrameType.RESET)).toBe(false);
  });
});
