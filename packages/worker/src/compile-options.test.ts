import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@astraflow/config';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compileWorkerOptions } from './compile-options.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'astra-compile-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const settings = (overrides: Record<string, unknown>) =>
  loadSettings(
    { data_dir: join(dir, 'var', 'data'), packages_dir: join(dir, 'packages'), ...overrides },
    { env: {}, cwd: dir, defaultPaths: [] },
  );

describe('compileWorkerOptions', () => {
  it('computes the task timeout and the cooldown once, in ms, for the router and the dispatch handler alike', () => {
    const options = compileWorkerOptions(
      settings({
        handler_dispatch_timeout_seconds: 12.5,
        handler_dispatch_max_failures: 3,
        handler_dispatch_failure_cooldown_seconds: 7,
      }),
    );
    expect(options.router.taskTimeoutMs).toBe(12_500);
    expect(options.dispatch.taskTimeoutMs).toBe(12_500);
    expect(options.router.cooldown).toEqual({ maxFailures: 3, ms: 7000 });
    expect(options.dispatch.cooldown).toEqual(options.router.cooldown);
  });

  it('leaves out the parts a setting turns off, and places the outbox next to the data folder by default', () => {
    const off = compileWorkerOptions(settings({ http_enabled: false, outbox_enabled: false }));
    expect(off.health).toBeUndefined();
    expect(off.outbox).toBeUndefined();
    const on = compileWorkerOptions(settings({ http_enabled: true, http_port: 0, outbox_enabled: true }));
    expect(on.health).toEqual({ host: '127.0.0.1', port: 0 });
    expect(on.outbox?.dir).toBe(join(dir, 'var', 'outbox'));
  });
});
