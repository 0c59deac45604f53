import { describe, expect, it } from 'vitest';
import { redactUrl, scrubSecret } from './redact-url.js';

describe('redactUrl', () => {
  it('leaves a URL without secrets alone', () => {
    expect(redactUrl('wss://sched.example:8443/ws/worker?tenant=a')).toBe('wss://sched.example:8443/ws/worker?tenant=a');
  });

  it('masks user info and secret-looking query parameters', () => {
    const out = redactUrl('ws://alice:pw1@host/ws?token=t1&access_token=t2&api_key=t3&tenant=acme');
    expect(out).toBe('ws://***:***@host/ws?token=***&access_token=***&api_key=***&tenant=acme');
  });

  it('masks the given token wherever it appears', () => {
    expect(redactUrl('ws://host/ws/abc-secret-token/x', 'abc-secret-token')).toBe('ws://host/ws/***/x');
  });

  it('still masks user info in a URL that does not parse', () => {
    expect(redactUrl('ws://bob:pw@ho st/ws')).toBe('ws://***@ho st/ws');
  });
});

describe('scrubSecret', () => {
  it('masks the raw and the URL-encoded secret', () => {
    expect(scrubSecret('a x/y+z b x%2Fy%2Bz', 'x/y+z')).toBe('a *** b ***');
  });

  it('returns the text unchanged without a secret', () => {
    expect(scrubSecret('plain', undefined)).toBe('plain');
    expect(scrubSecret('plain', '')).toBe('plain');
  });
});
