import { describe, expect, it } from 'vitest';
import { AstraError } from './astra-error.js';
import { errorMessage } from './error-message.js';

describe('errorMessage', () => {
  it('reads the message of errors and of error-like objects', () => {
    expect(errorMessage(new TypeError('bad type'))).toBe('bad type');
    expect(errorMessage(new AstraError('E.RUNNER.FAILURE', 'boom'))).toBe('boom');
    expect(errorMessage({ message: 'plain object' })).toBe('plain object');
  });

  it('describes any other thrown value without throwing itself', () => {
    expect(errorMessage('a string')).toBe('a string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(null)).toBe('null');
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage({ code: 7 })).toBe('{"code":7}');
    const bare = Object.create(null) as Record<string, unknown>;
    bare['x'] = 1;
    expect(errorMessage(bare)).toBe('{"x":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(errorMessage(cyclic)).toBe('[object Object]');
  });

  it('gives AstraError.wrap the message of a thrown plain object', () => {
    expect(AstraError.wrap({ message: 'from an object' }, 'E.RUNNER.FAILURE').message).toBe('from an object');
  });
});
