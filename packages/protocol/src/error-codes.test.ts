import { describe, expect, it } from 'vitest';
import { ErrorCode, LocalErrorCode, ProtocolErrorCode, isAuthErrorCode } from './error-codes.js';

// docs/protocol.md §7, in the order it lists them.
const SECTION_7 = [
  'E.AUTH.INVALID_TOKEN',
  'E.AUTH.MISSING_TOKEN',
  'E.AUTH.MTLS_REQUIRED',
  'E.AUTH.HANDSHAKE_REQUIRED',
  'E.AUTH.UNAUTHENTICATED',
  'E.AUTH.MODE_UNSUPPORTED',
  'E.SESSION.UNKNOWN',
  'E.SESSION.MISMATCH',
  'E.SESSION.INVALID_TOKEN',
  'E.SESSION.TENANT_MISMATCH',
  'E.SESSION.NOT_REGISTERED',
  'E.SESSION.STALE_BINDING',
  'E.SESSION.DENIED',
  'E.CMD.UNKNOWN',
  'E.CMD.CONCURRENCY_VIOLATION',
  'E.RUNNER.FAILURE',
  'E.RUNNER.CANCELLED',
  'E.RESOURCE.MISSING',
  'E.RESULT.DUPLICATE',
  'E.RESULT.SEQ_GAP',
  'E.PKG.INVALID',
  'E.PKG.PERMISSION',
  'E.INTERNAL',
  'E.TIMEOUT',
];

describe('error codes', () => {
  it('ProtocolErrorCode holds every §7 code exactly once, and nothing else', () => {
    const values = Object.values(ProtocolErrorCode);
    expect([...values].sort()).toEqual([...SECTION_7].sort());
    expect(new Set(values).size).toBe(values.length);
  });

  it('names each code after its value', () => {
    for (const [key, value] of Object.entries(ErrorCode)) {
      expect(value.slice(2).replaceAll('.', '_')).toBe(key);
    }
  });

  it('keeps local codes apart from protocol codes, and every code unique', () => {
    const local = Object.values(LocalErrorCode);
    expect(local.filter((code) => (SECTION_7 as string[]).includes(code))).toEqual([]);
    const all = Object.values(ErrorCode);
    expect(all).toHaveLength(SECTION_7.length + local.length);
    expect(new Set(all).size).toBe(all.length);
    for (const code of all) expect(code).toMatch(/^E(\.[A-Z][A-Z0-9_]*)+$/);
  });

  it('sends none of the retired refusal codes: refusals are E.RUNNER.CANCELLED with a reason', () => {
    const all: string[] = Object.values(ErrorCode);
    for (const retired of ['E.WORKER.DRAINING', 'E.QUEUE.OVERFLOW', 'E.HANDLER.COOLDOWN']) expect(all).not.toContain(retired);
  });

  it('isAuthErrorCode picks the E.AUTH.* family only', () => {
    for (const code of SECTION_7) expect(isAuthErrorCode(code)).toBe(code.startsWith('E.AUTH.'));
    expect(isAuthErrorCode('E.AUTHX')).toBe(false);
    expect(isAuthErrorCode('E.AUTH.SOMETHING_NEW')).toBe(true);
  });
});
