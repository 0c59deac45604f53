import { describe, expect, it } from 'vitest';
import { REDACT_MAX_DEPTH, redactSecrets, redactUrl, scrubSecrets } from './redact.js';

describe('redactUrl', () => {
  it('keeps scheme, host, port and path', () => {
    expect(redactUrl('wss://sched.example:8443/ws/worker')).toBe('wss://sched.example:8443/ws/worker');
  });

  it('drops user info and the whole query, whatever its parameter names', () => {
    const out = redactUrl('ws://alice:pw1@host/ws?token=t1&x-amz-signature=t2&tenant=acme#frag');
    expect(out).toBe('ws://host/ws?…');
    for (const secret of ['alice', 'pw1', 't1', 't2', 'frag']) expect(out).not.toContain(secret);
  });

  it('accepts URL objects and file URLs', () => {
    expect(redactUrl(new URL('https://u:p@cdn.example/a.tgz?sig=abc'))).toBe('https://cdn.example/a.tgz?…');
    expect(redactUrl('file:///srv/pkgs/a.tgz')).toBe('file:///srv/pkgs/a.tgz');
  });

  it('still removes user info and query from text that does not parse', () => {
    const out = redactUrl('ws://bob:pw@ho st/ws?token=abc');
    expect(out).toBe('ws://ho st/ws?…');
  });
});

describe('scrubSecrets', () => {
  it('masks a secret and its URL-encoded form', () => {
    expect(scrubSecrets('a x/y+z b x%2Fy%2Bz', ['x/y+z'])).toBe('a *** b ***');
  });

  it('leaves text alone without secrets', () => {
    expect(scrubSecrets('plain', [undefined, ''])).toBe('plain');
  });
});

describe('redactSecrets', () => {
  it('masks secret keys and redacts URL strings at any level', () => {
    const out = redactSecrets({ payload: { token: 'tok', url: 'https://u:p@h/a?sig=s', list: [{ session_token: 's' }] } });
    expect(out).toEqual({ payload: { token: '***', url: 'https://h/a?…', list: [{ session_token: '***' }] } });
  });

  it('survives a 50 000-deep object by cutting it at the depth limit', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 50_000; i++) {
      const next: Record<string, unknown> = {};
      deep.a = next;
      deep = next;
    }
    const out = redactSecrets(root);
    let level = out as Record<string, unknown>;
    let depth = 0;
    while (typeof level.a === 'object' && level.a !== null) {
      level = level.a as Record<string, unknown>;
      depth++;
    }
    expect(depth).toBe(REDACT_MAX_DEPTH - 1);
    expect(level.a).toBe('[too deep]');
    expect(() => JSON.stringify(out)).not.toThrow();
  });
});
