import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, removeSandboxes } from './sandbox.test.helper.js';
import { settingFields } from './setting-fields.js';
import { SettingsSchema } from './settings-schema.js';

afterAll(removeSandboxes);

describe('settingFields', () => {
  const box = createSandbox();
  const settings = box.load();

  it('documents every setting exactly once, in the order of the loaded object', () => {
    expect(settingFields.map((f) => f.name)).toEqual(Object.keys(settings));
    expect(settingFields).toHaveLength(78);
  });

  it('gives each field its env variable, a type, a default and a one-line description', () => {
    for (const field of settingFields) {
      expect(field.env).toBe(`ASTRA_WORKER_${field.name.toUpperCase()}`);
      expect(field.type.length, field.name).toBeGreaterThan(0);
      expect(field.default.length, field.name).toBeGreaterThan(0);
      expect(field.description, field.name).toMatch(/^[^\n]{10,140}$/);
    }
  });

  it('marks auth_token, and only it, as secret', () => {
    expect(settingFields.filter((f) => f.secret === true).map((f) => f.name)).toEqual(['auth_token']);
  });

  it('shows human-readable defaults', () => {
    const byName = new Map(settingFields.map((f) => [f.name, f]));
    expect(byName.get('scheduler_ws_url')?.default).toBe('ws://localhost:8080/ws/worker');
    expect(byName.get('auth_token')?.default).toBe('none');
    expect(byName.get('runtime_names')?.default).toBe('["node"]');
    expect(byName.get('log_level')?.default).toBe('INFO');
    expect(byName.get('tls_reject_unauthorized')?.default).toBe('true');
    expect(byName.get('transport')?.type).toBe('websocket | dummy');
    expect(byName.get('session_window_size')?.type).toBe('integer ≥ 1');
  });

  it('is frozen', () => {
    expect(Object.isFrozen(settingFields)).toBe(true);
    expect(Object.isFrozen(settingFields[0])).toBe(true);
  });
});

describe('SettingsSchema', () => {
  const settings = createSandbox().load({ auth_token: 'abcdef', concurrency_per_node_limits: { a: 1 } });

  it('accepts loaded settings', () => {
    expect(SettingsSchema.safeParse(settings).success).toBe(true);
  });

  it('rejects unknown keys, missing fields and string forms', () => {
    expect(SettingsSchema.safeParse({ ...settings, extra: 1 }).success).toBe(false);
    const { tenant: _tenant, ...missing } = settings;
    expect(SettingsSchema.safeParse(missing).success).toBe(false);
    expect(SettingsSchema.safeParse({ ...settings, http_port: '80' }).success).toBe(false);
    expect(SettingsSchema.safeParse({ ...settings, log_level: 'INFO' }).success).toBe(false);
  });
});

describe('README', () => {
  it('lists every setting with its env variable and default', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    for (const field of settingFields) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${field.name}\` |`));
      expect(row, field.name).toBeDefined();
      expect(row).toContain(`\`${field.env}\``);
      expect(row).toContain(` ${field.default.replace(/\|/g, '\\|')} |`);
    }
  });
});
