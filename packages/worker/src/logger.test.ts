import { PassThrough } from 'node:stream';
import { AstraError } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture() {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { stream, lines };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger', () => {
  it('names the level, binds the identity, and reads the instance id per line', async () => {
    const { stream, lines } = capture();
    let id: string | undefined;
    const log = createLogger({
      level: 'info',
      destination: stream,
      identity: { worker_name: 'w-1', tenant: 'acme', worker_instance_id: () => id },
    });
    log.info('before');
    id = 'wi-42';
    log.child({ component: 'x' }).warn('after');
    log.debug('hidden');
    await tick();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'info',
      worker_name: 'w-1',
      tenant: 'acme',
      worker_instance_id: null,
      msg: 'before',
    });
    expect(lines[1]).toMatchObject({ level: 'warn', worker_instance_id: 'wi-42', component: 'x', msg: 'after' });
  });

  it('serialises errors under err and error as objects with their code and cause', async () => {
    const { stream, lines } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const err = new AstraError('E.PKG.DOWNLOAD', 'download failed', { cause: new Error('ECONNRESET') });
    log.warn({ err }, 'one');
    log.error({ error: new TypeError('bad') }, 'two');
    await tick();
    expect(lines[0]!['err']).toMatchObject({
      type: 'AstraError',
      message: expect.stringContaining('download failed'),
      code: 'E.PKG.DOWNLOAD',
    });
    expect(typeof (lines[0]!['err'] as { stack?: unknown }).stack).toBe('string');
    expect(lines[1]!['error']).toMatchObject({ type: 'TypeError', message: 'bad' });
    expect(lines[0]).not.toHaveProperty('worker_name');
  });

  it('still redacts secrets by path', async () => {
    const { stream, lines } = capture();
    createLogger({ level: 'info', destination: stream }).info({ auth_token: 's3cret', nested: { token: 't0k' } }, 'x');
    await tick();
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|t0k/);
  });
});
