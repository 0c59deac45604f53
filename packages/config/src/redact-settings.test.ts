import { afterAll, describe, expect, it } from 'vitest';
import { redactSettings } from './redact-settings.js';
import { createSandbox, removeSandboxes } from './sandbox.test.helper.js';

afterAll(removeSandboxes);

describe('redactSettings', () => {
  const box = createSandbox();

  it('replaces a set auth_token with *** and keeps everything else', () => {
    const settings = box.load({ auth_token: 'tok-123456', tenant: 't1' });
    const redacted = redactSettings(settings);
    expect(redacted.auth_token).toBe('***');
    expect(JSON.stringify(redacted)).not.toContain('tok-123456');
    expect({ ...redacted, auth_token: settings.auth_token }).toEqual({ ...settings });
    expect(settings.auth_token).toBe('tok-123456');
  });

  it('leaves an unset token undefined, so logs show that none is configured', () => {
    const redacted = redactSettings(box.load());
    expect('auth_token' in redacted).toBe(true);
    expect(redacted.auth_token).toBeUndefined();
  });

  it('logs URLs without user info or query string', () => {
    const settings = box.load({
      scheduler_ws_url: 'wss://worker:hunter22@sched.example.com/ws?access_token=qs-secret',
      scheduler_rest_base_url: 'https://api.example.com/v1',
    });
    const redacted = redactSettings(settings);
    expect(redacted.scheduler_ws_url).toBe('wss://sched.example.com/ws?…');
    expect(redacted.scheduler_rest_base_url).toBe('https://api.example.com/v1');
    expect(JSON.stringify(redacted)).not.toMatch(/hunter22|qs-secret|worker:/);
  });
});
