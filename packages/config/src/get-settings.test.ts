import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { getSettings, resetSettingsCache } from './get-settings.js';
import { createSandbox, removeSandboxes } from './sandbox.test.helper.js';

// getSettings reads the real process env and cwd; ASTRA_WORKER_CONFIG_FILE points it at a
// temp file so no /etc/astraflow file on the machine can interfere.
const savedCwd = process.cwd();
const savedEnv = { ...process.env };

afterEach(() => {
  process.chdir(savedCwd);
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  resetSettingsCache();
  removeSandboxes();
});

describe('getSettings', () => {
  it('loads once from process.env and process.cwd(), then returns the same object', () => {
    const box = createSandbox();
    process.env.ASTRA_WORKER_CONFIG_FILE = box.write('w.yaml', 'tenant: first\n');
    process.chdir(box.dir);
    const first = getSettings();
    expect(first.tenant).toBe('first');

    process.env.ASTRA_WORKER_CONFIG_FILE = box.write('w2.yaml', 'tenant: second\n');
    expect(getSettings()).toBe(first);

    resetSettingsCache();
    const second = getSettings();
    expect(second).not.toBe(first);
    expect(second.tenant).toBe('second');
  });

  it('reloads when the working directory changes', () => {
    const a = createSandbox();
    const b = createSandbox();
    process.env.ASTRA_WORKER_CONFIG_FILE = a.write('w.yaml', 'tenant: t\n');
    delete process.env.ASTRA_WORKER_DATA_DIR;
    process.chdir(a.dir);
    const first = getSettings();
    process.chdir(b.dir);
    const second = getSettings();
    expect(second).not.toBe(first);
    expect(second.data_dir).toBe(join(realpathSync(b.dir), 'var', 'data'));
  });

  it('does not cache a failed load', () => {
    const box = createSandbox();
    process.chdir(box.dir);
    process.env.ASTRA_WORKER_CONFIG_FILE = box.write('w.yaml', 'tenant: ok\n');
    process.env.ASTRA_WORKER_SESSION_WINDOW_SIZE = 'zero';
    expect(() => getSettings()).toThrow(/invalid session_window_size/);
    process.env.ASTRA_WORKER_SESSION_WINDOW_SIZE = '4';
    expect(getSettings().session_window_size).toBe(4);
  });
});
