import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { FrameType } from '@astraflow/protocol';
import { startReferenceScheduler } from '@astraflow/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanups, startCli } from './cli-harness.js';
import { TOKEN, task } from './harness.js';

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const USERINFO_PASSWORD = 'pa55-in-userinfo';
const URL_SIGNATURE = 'sig-in-query-7f3a';
const WS_QUERY_TOKEN = 'qs-access-token-91c';

describe('secrets never reach the logs', () => {
  it('runs the binary at DEBUG through an install from a credentialed, signed URL, a reset echoing the token, and tasks; no secret in stdout or stderr', {
    timeout: 60_000,
  }, async () => {
    const s = await startReferenceScheduler({ token: TOKEN, seed: 31 });
    cleanups.push(() => s.close());
    const files = await s.serveFiles(sampleArchivesDir);
    const cli = await startCli({
      args: ['--scheduler-url', `${s.url}?access_token=${WS_QUERY_TOKEN}`, '--log-level', 'debug', '--transport', 'websocket'],
      env: { ASTRA_WORKER_AUTH_TOKEN: TOKEN },
    });
    await s.waitForSession(undefined, 15_000);

    const archive = sampleArchive('echo', '1.0.0');
    const file = archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '');
    const base = new URL(files.baseUrl);
    const url = `${base.protocol}//user:${USERINFO_PASSWORD}@${base.host}${base.pathname.replace(/\/$/, '')}/${file}?X-Signature=${URL_SIGNATURE}`;
    const installed = await s.installPackage({ name: 'echo', version: '1.0.0', url, sha256: archive.sha256 });
    expect(installed.payload).toMatchObject({ name: 'echo', status: 'installed' });

    const ok = await s.dispatch(task('echo.echo', { message: 'hi' })).done;
    expect(ok.type).toBe(FrameType.EXEC_RESULT);

    // The scheduler echoes the token into a reset reason; the worker comes back with a fresh session.
    const accepts = s.accepts;
    expect(s.reset('E.SESSION.STALE_BINDING', `token ${TOKEN} no longer valid`, 50)).toBe(true);
    await s.waitForSession(undefined, 15_000);
    for (let i = 0; i < 100 && s.accepts === accepts; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await s.dispatch(task('echo.echo', { message: 'again' })).done).type).toBe(FrameType.EXEC_RESULT);

    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    const output = `${cli.lines.join('\n')}\n${cli.stderr()}`;
    // It did log what happened, at DEBUG, including the frames and the install…
    expect(output).toContain('"msg":"frame in"');
    expect(output).toContain('session reset by scheduler');
    expect(output).toContain(file);
    // …but none of the secrets.
    for (const secret of [TOKEN, encodeURIComponent(TOKEN), USERINFO_PASSWORD, URL_SIGNATURE, WS_QUERY_TOKEN]) {
      expect(output).not.toContain(secret);
    }
  });
});
