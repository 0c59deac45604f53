import { describe, expect, it } from 'vitest';
import { AstraError } from './astra-error.js';
import { ErrorCode } from './error-codes.js';

/** A second, independent copy of the module, as a duplicated dependency would load it. */
async function loadSecondCopy(): Promise<typeof AstraError> {
  const specifier = './astra-error.js?second-copy';
  const module = (await import(/* @vite-ignore */ specifier)) as { AstraError: typeof AstraError };
  return module.AstraError;
}

describe('AstraError', () => {
  it('carries code, message, details and cause', () => {
    const cause = new Error('disk full');
    const error = new AstraError(ErrorCode.PKG_INVALID, 'bad archive', { cause, details: { file: 'a.tgz' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('AstraError');
    expect(error.code).toBe('E.PKG.INVALID');
    expect(error.message).toBe('bad archive');
    expect(error.details).toEqual({ file: 'a.tgz' });
    expect(error.cause).toBe(cause);
    expect(error.stack).toContain('bad archive');
  });

  it('has no cause property at all when none is given', () => {
    const error = new AstraError('E.SOMETHING.NEW', 'codes from newer peers are allowed');
    expect('cause' in error).toBe(false);
    expect(error.details).toBeUndefined();
  });

  describe('isInstance', () => {
    it('recognises its own errors and nothing else', () => {
      expect(AstraError.isInstance(new AstraError(ErrorCode.INTERNAL, 'x'))).toBe(true);
      for (const value of [new Error('x'), null, undefined, 'E.INTERNAL', { code: 'E.INTERNAL', message: 'x' }, 0]) {
        expect(AstraError.isInstance(value)).toBe(false);
      }
      expect(AstraError.isInstance({ [Symbol.for('@astraflow/AstraError')]: 'yes' })).toBe(false);
    });

    it('works across two copies of the package, where instanceof does not', async () => {
      const Other = await loadSecondCopy();
      expect(Other).not.toBe(AstraError);
      const foreign = new Other(ErrorCode.TIMEOUT, 'late');
      expect(foreign instanceof AstraError).toBe(false);
      expect(AstraError.isInstance(foreign)).toBe(true);
      expect(Other.isInstance(new AstraError(ErrorCode.TIMEOUT, 'late'))).toBe(true);
      expect(AstraError.wrap(foreign, ErrorCode.INTERNAL)).toBe(foreign);
    });
  });

  describe('wrap', () => {
    it('returns an AstraError unchanged, whatever code is asked for', () => {
      const original = new AstraError(ErrorCode.PKG_CHECKSUM, 'mismatch');
      expect(AstraError.wrap(original, ErrorCode.INTERNAL, 'other message')).toBe(original);
    });

    it('wraps an Error with its message and keeps it as the cause', () => {
      const cause = new TypeError('x is undefined');
      const wrapped = AstraError.wrap(cause, ErrorCode.RUNNER_FAILURE);
      expect(wrapped.code).toBe(ErrorCode.RUNNER_FAILURE);
      expect(wrapped.message).toBe('x is undefined');
      expect(wrapped.cause).toBe(cause);
    });

    it('prefers an explicit message', () => {
      expect(AstraError.wrap(new Error('low level'), ErrorCode.INTERNAL, 'while loading').message).toBe('while loading');
    });

    it('wraps non-Error throws by their string form', () => {
      expect(AstraError.wrap('plain string', ErrorCode.INTERNAL).message).toBe('plain string');
      expect(AstraError.wrap(42, ErrorCode.INTERNAL).message).toBe('42');
      expect(AstraError.wrap(undefined, ErrorCode.INTERNAL).cause).toBeUndefined();
    });

    it('falls back to the code when there is no message to use', () => {
      expect(AstraError.wrap(new Error(''), ErrorCode.TIMEOUT).message).toBe(ErrorCode.TIMEOUT);
      expect(AstraError.wrap('', ErrorCode.TIMEOUT).message).toBe(ErrorCode.TIMEOUT);
    });
  });

  describe('toJSON', () => {
    it('gives code and message, plus details when there are some, never the cause or stack', () => {
      expect(new AstraError(ErrorCode.INTERNAL, 'x', { cause: new Error('secret') }).toJSON()).toEqual({
        code: 'E.INTERNAL',
        message: 'x',
      });
      const error = new AstraError(ErrorCode.PKG_INVALID, 'bad', { details: { format: 'zip' } });
      expect(error.toJSON()).toEqual({ code: 'E.PKG.INVALID', message: 'bad', details: { format: 'zip' } });
      expect(JSON.parse(JSON.stringify({ error }))).toEqual({ error: error.toJSON() });
    });
  });
});
