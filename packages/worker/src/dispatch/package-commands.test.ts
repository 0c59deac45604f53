import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFrame, FrameType, type Frame } from '@astraflow/protocol';
import { createPackageManager } from '@astraflow/registry';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Outbox } from '../outbox.js';
import { compileRouterConfig } from '../compile-options.js';
import { createPackageCommandHandlers } from './package-commands.js';
import { Router } from './router.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function command(type: string, n: number, payload: Record<string, unknown>): Frame {
  return buildFrame(type, payload as never, { sender: { role: 'scheduler', id: 's' }, tenant: 't', id: `${type}-${n}` });
}

async function setupRouter(options: { draining?: boolean } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'pkg-commands-'));
  dirs.push(dir);
  const sent: Array<{ type: string; payload: Record<string, unknown>; corr: string | undefined }> = [];
  const outbox: Outbox = {
    send(type, payload, opts) {
      sent.push({ type, payload: payload as Record<string, unknown>, corr: opts?.corr ?? undefined });
      const frame = buildFrame(type, payload, { sender: { role: 'worker', id: 'w' }, tenant: 't' });
      return Promise.resolve({ frame, acked: Promise.resolve() });
    },
  };
  const router = new Router({
    outbox,
    config: compileRouterConfig({
      handler_dispatch_max_inflight: 1,
      handler_dispatch_queue_max: 1,
      handler_dispatch_queue_overflow: 'drop_new',
      handler_dispatch_queue_idle_seconds: 0,
      handler_dispatch_timeout_seconds: 0,
      handler_dispatch_max_failures: 0,
      handler_dispatch_failure_cooldown_seconds: 0,
    }),
  });
  const pkg = createPackageCommandHandlers({
    packages: createPackageManager({ packagesDir: join(dir, 'packages') }),
    outbox,
    reregister: async () => {},
    isDraining: () => options.draining === true,
  });
  router.register(FrameType.PKG_INSTALL, pkg.install);
  router.register(FrameType.PKG_UNINSTALL, pkg.uninstall);
  return { router, sent };
}

describe('package commands refused before they ran', () => {
  it('answers installs a full drop_new queue drops with a failed event naming the reason; ext frames are counted', async () => {
    const { router, sent } = await setupRouter();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    router.register('ext.acme.hold', { handle: () => held });
    await router.route(command('ext.acme.hold', 0, {}));
    // The one slot is held: a second ext frame waits in its queue, a third is dropped and counted.
    await router.route(command('ext.acme.hold', 1, {}));
    await router.route(command('ext.acme.hold', 2, {}));
    expect(router.stats.dropped.queue_overflow).toBe(1);
    for (let i = 0; i < 3; i++) {
      await router.route(
        command(FrameType.PKG_INSTALL, i, { name: 'demo', version: `1.0.${i}`, url: 'file:///nonexistent.tgz' }),
      );
    }
    expect(router.stats.dropped.queue_overflow).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent.map((s) => [s.corr, s.payload['status'], (s.payload['details'] as { reason?: string }).reason])).toEqual([
      [`${FrameType.PKG_INSTALL}-1`, 'failed', 'overflow'],
      [`${FrameType.PKG_INSTALL}-2`, 'failed', 'overflow'],
    ]);
    expect(sent[0]?.payload).toMatchObject({ name: 'demo', version: '1.0.1', details: { code: 'E.RUNNER.CANCELLED' } });
    release();
    await router.idle();
    // The queued install ran and failed on its own terms (no such file), not as a refusal.
    // (The first install loads the download and unpack code, so it may take a moment.)
    await vi.waitFor(
      () => {
        const ran = sent.find((s) => s.corr === `${FrameType.PKG_INSTALL}-0`);
        expect(ran?.payload).toMatchObject({ status: 'failed', details: { code: expect.stringMatching(/^E\.PKG\./) } });
      },
      { timeout: 5000 },
    );
  });

  it('refuses package commands while draining, and never sends status uninstalled without the opt-in', async () => {
    const { router, sent } = await setupRouter({ draining: true });
    await router.route(command(FrameType.PKG_UNINSTALL, 0, { name: 'demo' }));
    expect(sent).toEqual([
      expect.objectContaining({
        corr: `${FrameType.PKG_UNINSTALL}-0`,
        payload: expect.objectContaining({
          name: 'demo',
          version: '*',
          status: 'failed',
          details: expect.objectContaining({ reason: 'draining' }),
        }),
      }),
    ]);
  });
});
