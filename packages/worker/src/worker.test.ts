import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '@astraflow/config';
import { AstraError, ErrorCode, FrameType, createNoopLogger } from '@astraflow/protocol';
import { createDummyTransport, type DummyTransport } from '@astraflow/transport-dummy';
import { afterEach, describe, expect, it } from 'vitest';
import { setup } from './setup.js';
import type { Worker } from './worker.js';

let dir: string;
let worker: Worker | undefined;

afterEach(async () => {
  await worker?.stop({ graceMs: 100, flushMs: 100 });
  worker = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: Partial<Parameters<typeof setup>[0]> = {}): Promise<{ worker: Worker; transport: DummyTransport }> {
  dir = await mkdtemp(join(tmpdir(), 'astra-worker-'));
  const settings = loadSettings(
    { transport: 'dummy', packages_dir: join(dir, 'pkgs'), data_dir: join(dir, 'var', 'data') },
    { cwd: dir, env: {}, defaultPaths: [] },
  );
  const transport = createDummyTransport();
  worker = await setup({ settings, transport, logger: createNoopLogger(), ...options });
  await worker.session.whenReady(5000);
  return { worker, transport };
}

describe('setup()', () => {
  it('refuses transport dummy without a transport passed in, before starting anything', async () => {
    dir = await mkdtemp(join(tmpdir(), 'astra-worker-'));
    const settings = loadSettings(
      { transport: 'dummy', packages_dir: join(dir, 'pkgs'), data_dir: join(dir, 'var', 'data') },
      { cwd: dir, env: {}, defaultPaths: [] },
    );
    const err = await setup({ settings, logger: createNoopLogger() }).catch((e: unknown) => e);
    expect(AstraError.isInstance(err) && err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect((err as Error).message).toContain('@astraflow/transport-dummy');
  });

  it('advertises the built-in and injected handler types and routes ext.* frames to injected handlers', async () => {
    const { transport } = await start({
      handlers: {
        'ext.acme.ping': {
          async handle(frame, { outbox }) {
            await outbox.send('ext.acme.pong', { echo: frame.payload.n }, { corr: frame.id });
          },
        },
      },
    });
    const register = await transport.waitFor((f) => f.type === FrameType.REGISTER);
    expect((register.payload as { payload_types: string[] }).payload_types).toEqual([
      FrameType.EXEC_DISPATCH,
      FrameType.EXEC_NEXT_RESPONSE,
      FrameType.PKG_INSTALL,
      FrameType.PKG_UNINSTALL,
      'ext.acme.ping',
    ]);
    const ping = await transport.send('ext.acme.ping', { n: 7 });
    const pong = await transport.waitFor((f) => f.type === 'ext.acme.pong');
    expect(pong.corr).toBe(ping.id);
    expect(pong.payload).toEqual({ echo: 7 });
    expect(transport.violations).toEqual([]);
  });

  it('answers a dispatch with an invalid payload instead of dropping it', async () => {
    const { transport } = await start();
    transport.inject({
      type: FrameType.EXEC_DISPATCH,
      id: 'bad-dispatch',
      ts: new Date().toISOString(),
      tenant: 'default',
      sender: { role: 'scheduler', id: 'scheduler' },
      session_seq: 1,
      ack: { request: true },
      payload: { run_id: 'r1', task_id: 't1', node_type: 'echo.echo' },
    });
    const answer = await transport.waitFor((f) => f.type === FrameType.EXEC_ERROR && f.corr === 'bad-dispatch');
    expect(answer.payload).toMatchObject({
      code: 'E.FRAME.INVALID',
      context: { where: 'dispatch.validate', details: { run_id: 'r1', task_id: 't1' } },
    });
    expect(String((answer.payload as { message: string }).message)).toContain('node_id');
    const ack = await transport.waitFor((f) => f.type === FrameType.ACK && f.ack?.for === 'bad-dispatch');
    expect(ack.payload).toMatchObject({ ok: true, ack_seq: 1 });
  });

  it('stops gracefully: drains, closes the session and resolves done', async () => {
    const { worker: w } = await start();
    await w.stop({ graceMs: 100, flushMs: 100 });
    await expect(w.done).resolves.toBeUndefined();
    expect(w.state).toBe('CLOSED');
    worker = undefined;
  });
});
