import { describe, expect, it } from 'vitest';
import { createNoopLogger } from './logger.js';
import { classifyCloseCode, classifyHttpStatus } from './transport.js';

describe('classifyHttpStatus (docs/protocol.md §4)', () => {
  it.each([
    [401, 'auth'],
    [403, 'auth'],
    [400, 'protocol'],
    [404, 'protocol'],
    [426, 'protocol'],
    [500, 'network'],
    [502, 'network'],
    [429, 'network'],
    [200, 'network'],
  ])('%i → %s', (status, expected) => {
    expect(classifyHttpStatus(status)).toBe(expected);
  });
});

describe('classifyCloseCode', () => {
  it.each([
    [1000, 'none'],
    [4401, 'auth'],
    [4403, 'auth'],
    [1002, 'protocol'],
    [1003, 'protocol'],
    [1007, 'protocol'],
    [1009, 'protocol'],
    [1001, 'network'],
    [1006, 'network'],
    [1011, 'network'],
    [4000, 'network'],
  ])('%i → %s', (code, expected) => {
    expect(classifyCloseCode(code)).toBe(expected);
  });
});

describe('createNoopLogger', () => {
  it('accepts both call forms, returns itself as child, and reports every level disabled', () => {
    const logger = createNoopLogger();
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
      expect(logger[level]('message')).toBeUndefined();
      expect(logger[level]({ field: 1 }, 'message')).toBeUndefined();
      expect(logger.isLevelEnabled?.(level)).toBe(false);
    }
    expect(logger.child({ component: 'x' })).toBe(logger);
  });
});
