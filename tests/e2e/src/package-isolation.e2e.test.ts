import { cp, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { FrameType, type Frame, type RegisterPayload } from '@astraflow/protocol';
import { startReferenceScheduler, type ReferenceScheduler } from '@astraflow/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanups, startCli, type Cli } from './cli-harness.js';
import { TOKEN, scratch, task } from './harness.js';
import { largestGap, packBomb, packPackage, treeOf, writePackage } from './hostile-packages.js';

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

const HEARTBEAT_MS = 500;
const JITTER_MS = 50;
const IMPORT_TIMEOUT_S = 3;
/** Heartbeats may be late by the interval, the jitter and 100 ms of scheduling noise, never more. */
const HEARTBEAT_BUDGET_MS = HEARTBEAT_MS + JITTER_MS + 100;

/** Module bodies that must not take the worker down at import. */
const HOSTILE_IMPORTS: Record<string, string> = {
  exits: 'process.exit(7);',
  throws: 'throw new Error("cannot start");',
  loops: 'while (true) {}',
  never: 'await new Promise(() => {});',
};

const ECHO = { handler: 'echo', source: 'function echo(ctx) { return { echo: ctx.params.message }; }' };

function config(extra: string[] = []): string {
  return [
    `heartbeat_interval_seconds: ${HEARTBEAT_MS / 1000}`,
    `heartbeat_jitter_seconds: ${JITTER_MS / 1000}`,
    'reconnect_base_delay_seconds: 0.05',
    'reconnect_max_delay_seconds: 0.5',
    'ack_retry_base_ms: 50',
    'ack_retry_max_ms: 400',
    'ws_ping_interval_seconds: 0',
    'data_dir: ./var/data',
    `package_import_timeout_seconds: ${IMPORT_TIMEOUT_S}`,
    'package_require_sha256: true',
    ...extra,
    '',
  ].join('\n');
}

async function scheduler(): Promise<ReferenceScheduler> {
  const s = await startReferenceScheduler({ token: TOKEN, seed: 11 });
  cleanups.push(() => s.close());
  return s;
}

async function start(s: ReferenceScheduler, packagesDir: string, extra: string[] = []): Promise<Cli> {
  const cli = await startCli({
    args: ['--scheduler-url', s.url],
    config: config(extra),
    env: { ASTRA_WORKER_AUTH_TOKEN: TOKEN, ASTRA_WORKER_PACKAGES_DIR: packagesDir },
  });
  return cli;
}

const packagesOf = (f: Frame): RegisterPayload['packages'] => (f.payload as RegisterPayload).packages ?? [];

async function installEcho(s: ReferenceScheduler): Promise<Frame> {
  const files = await s.serveFiles(sampleArchivesDir);
  const archive = sampleArchive('echo', '1.0.0');
  const file = archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '');
  return s.installPackage({
    name: 'echo',
    version: '1.0.0',
    url: `${files.baseUrl.replace(/\/$/, '')}/${file}`,
    sha256: archive.sha256,
  });
}

async function echoServes(s: ReferenceScheduler): Promise<void> {
  const answer = await s.dispatch(task('echo.echo', { message: 'still here' })).done;
  expect(answer.payload).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'still here' } });
}

describe('package code cannot take the worker down', () => {
  it('imports that exit, throw, loop or never settle: each install fails in time, nothing is left, heartbeats stay on time', async () => {
    const dir = await scratch('astra-hostile-');
    const sources = join(dir, 'sources');
    const archives = join(dir, 'archives');
    await mkdir(archives, { recursive: true });
    const packed = new Map<string, { file: string; sha256: string }>();
    for (const [name, prelude] of Object.entries(HOSTILE_IMPORTS)) {
      packed.set(name, await packPackage(await writePackage(sources, name, prelude, [ECHO]), archives, name));
    }
    const s = await scheduler();
    const files = await s.serveFiles(archives);
    const packagesDir = join(dir, 'node-packages');
    const first = await start(s, packagesDir);
    await s.waitForSession(undefined, 15_000);
    expect((await installEcho(s)).payload).toMatchObject({ status: 'installed' });
    const before = await treeOf(packagesDir);

    const from = Date.now();
    for (const [name, { file, sha256 }] of packed) {
      const started = Date.now();
      const event = await s.installPackage({ name, version: '1.0.0', url: files.urlFor(file), sha256 });
      expect(event.payload, name).toMatchObject({ name, status: 'failed', details: { code: 'E.PKG.INVALID' } });
      expect(Date.now() - started, name).toBeLessThan(IMPORT_TIMEOUT_S * 1000 + 2000);
      await echoServes(s);
      expect(await treeOf(packagesDir), name).toEqual(before);
    }
    const to = Date.now();
    const messages = s.delivered
      .filter((f) => f.type === FrameType.PKG_EVENT)
      .map((f) => String((f.payload as { details?: { message?: string } }).details?.message));
    expect(messages.join('\n')).toMatch(/exited with code 7/);
    expect(messages.join('\n')).toMatch(/cannot start/);
    expect(messages.join('\n')).toMatch(/did not finish within 3000 ms/);
    expect(messages.join('\n')).toMatch(/top-level await never settles/);
    const beats = s.heartbeats.map((f) => Date.parse(f.ts));
    expect(largestGap(beats, from, to)).toBeLessThanOrEqual(HEARTBEAT_BUDGET_MS);
    expect(s.violations).toEqual([]);

    // The same packages already in packages_dir at start-up: the worker starts, connects, reports them failed, serves the rest.
    first.child.kill('SIGKILL');
    await first.exited;
    for (const name of Object.keys(HOSTILE_IMPORTS))
      await cp(join(sources, name), join(packagesDir, name, '1.0.0'), { recursive: true });
    const s2 = await scheduler();
    await start(s2, packagesDir);
    await s2.waitForSession(undefined, 30_000);
    const register = s2.registers.at(-1)!;
    expect(packagesOf(register)).toEqual([
      { name: 'echo', version: '1.0.0', status: 'installed' },
      { name: 'exits', version: '1.0.0', status: 'failed' },
      { name: 'loops', version: '1.0.0', status: 'failed' },
      { name: 'never', version: '1.0.0', status: 'failed' },
      { name: 'throws', version: '1.0.0', status: 'failed' },
    ]);
    await echoServes(s2);
    // Quarantined: the next start has nothing left to fail on.
    expect((await treeOf(packagesDir)).filter((p) => !p.startsWith('.quarantine/'))).toEqual(before);
  }, 90_000);

  it('inline process.exit(3) fails the task with E.RUNNER.FAILURE and the worker stays up; handlers see no auth token', async () => {
    const dir = await scratch('astra-exit-');
    const archives = join(dir, 'archives');
    await mkdir(archives, { recursive: true });
    const root = await writePackage(join(dir, 'sources'), 'rude', '', [
      { handler: 'quit', source: 'async function quit() { process.exit(3); }', execMode: 'inline' },
      { handler: 'abort', source: 'async function abort() { process.abort(); }', execMode: 'inline' },
      { handler: 'envInline', source: 'async function envInline() { return { env: { ...process.env } }; }', execMode: 'inline' },
      { handler: 'envThread', source: 'function envThread() { return { env: { ...process.env } }; }', execMode: 'thread' },
    ]);
    const { file, sha256 } = await packPackage(root, archives, 'rude');
    const s = await scheduler();
    const files = await s.serveFiles(archives);
    const cli = await start(s, join(dir, 'node-packages'));
    await s.waitForSession(undefined, 15_000);
    expect((await s.installPackage({ name: 'rude', version: '1.0.0', url: files.urlFor(file), sha256 })).payload).toMatchObject({
      status: 'installed',
    });
    for (const handler of ['quit', 'abort']) {
      const answer = await s.dispatch(task(`rude.${handler}`)).done;
      expect(answer.type, handler).toBe(FrameType.EXEC_ERROR);
      expect(answer.payload, handler).toMatchObject({
        code: 'E.RUNNER.FAILURE',
        message: expect.stringMatching(/cannot end the worker process/),
      });
    }
    for (const handler of ['envInline', 'envThread']) {
      const answer = await s.dispatch(task(`rude.${handler}`)).done;
      expect(answer.payload, handler).toMatchObject({ status: 'SUCCEEDED' });
      const env = (answer.payload as { result: { env: Record<string, string> } }).result.env;
      expect(
        Object.keys(env).filter((k) => k.startsWith('ASTRA_WORKER_')),
        handler,
      ).toEqual([]);
      expect(JSON.stringify(env), handler).not.toContain(TOKEN);
      expect(env['PATH'], handler).toBeDefined();
    }
    expect(cli.child.exitCode).toBeNull();
    expect(s.violations).toEqual([]);
  }, 60_000);

  it('an inline async busy loop: the watchdog ends the process with code 70 naming the task, and after a restart the worker serves again', async () => {
    const dir = await scratch('astra-watchdog-');
    const archives = join(dir, 'archives');
    await mkdir(archives, { recursive: true });
    const root = await writePackage(join(dir, 'sources'), 'spin', '', [
      { handler: 'spin', source: 'async function spin() { for (;;) {} }' },
      ECHO,
    ]);
    const { file, sha256 } = await packPackage(root, archives, 'spin');
    const s = await scheduler();
    const files = await s.serveFiles(archives);
    const packagesDir = join(dir, 'node-packages');
    const cli = await start(s, packagesDir, ['watchdog_timeout_seconds: 2']);
    await s.waitForSession(undefined, 15_000);
    expect((await s.installPackage({ name: 'spin', version: '1.0.0', url: files.urlFor(file), sha256 })).payload).toMatchObject({
      status: 'installed',
    });
    const spinning = task('spin.spin', {}, { package_name: 'spin' });
    const started = Date.now();
    void s.dispatch(spinning).done.catch(() => {});
    const exit = await cli.exited;
    expect(exit).toEqual({ code: 70, signal: null });
    expect(Date.now() - started).toBeLessThan(2000 + 3000);
    const line = await cli.waitForLog((e) => e.component === 'watchdog');
    expect(line).toMatchObject({
      level: 60,
      exit_code: 70,
      running_tasks: [{ task_id: spinning.task_id, node_type: 'spin.spin' }],
    });
    expect(String(line.msg)).toContain(spinning.task_id);

    // The orchestrator restarts it: same packages folder, and it serves.
    const s2 = await scheduler();
    await start(s2, packagesDir, ['watchdog_timeout_seconds: 2']);
    await s2.waitForSession(undefined, 15_000);
    const answer = await s2.dispatch(task('spin.echo', { message: 'back' }, { package_name: 'spin' })).done;
    expect(answer.payload).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'back' } });
  }, 60_000);

  it('a 1 MiB archive inflating to 1 GiB is refused within seconds with heartbeats on time; a real 32 MiB zero-filled file installs', async () => {
    const dir = await scratch('astra-bomb-');
    const sources = join(dir, 'sources');
    const archives = join(dir, 'archives');
    await mkdir(archives, { recursive: true });
    const bomb = await packBomb(await writePackage(sources, 'bomb', '', [ECHO]), archives, 'bomb', 1024);
    expect((await stat(join(archives, bomb.file))).size).toBeLessThan(2 * 1024 * 1024);
    const bigRoot = await writePackage(sources, 'big', '', [ECHO]);
    await writeFile(join(bigRoot, 'zeros.bin'), Buffer.alloc(32 * 1024 * 1024));
    const big = await packPackage(bigRoot, archives, 'big');
    const s = await scheduler();
    const files = await s.serveFiles(archives);
    const packagesDir = join(dir, 'node-packages');
    await start(s, packagesDir, ['package_max_extracted_bytes: 67108864']);
    await s.waitForSession(undefined, 15_000);
    expect((await installEcho(s)).payload).toMatchObject({ status: 'installed' });
    const before = await treeOf(packagesDir);

    const from = Date.now();
    const refused = await s.installPackage({ name: 'bomb', version: '1.0.0', url: files.urlFor(bomb.file), sha256: bomb.sha256 });
    expect(Date.now() - from).toBeLessThan(5000);
    expect(refused.payload).toMatchObject({
      name: 'bomb',
      status: 'failed',
      details: { code: 'E.PKG.INVALID', message: expect.stringMatching(/end-of-archive marker|unpacks to more than/) },
    });
    expect(await treeOf(packagesDir)).toEqual(before);
    await echoServes(s);
    const installed = await s.installPackage({ name: 'big', version: '1.0.0', url: files.urlFor(big.file), sha256: big.sha256 });
    expect(installed.payload).toMatchObject({ name: 'big', status: 'installed' });
    const to = Date.now();
    expect((await stat(join(packagesDir, 'big', '1.0.0', 'zeros.bin'))).size).toBe(32 * 1024 * 1024);
    const answer = await s.dispatch(task('big.echo', { message: 'big' })).done;
    expect(answer.payload).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'big' } });
    const beats = s.heartbeats.map((f) => Date.parse(f.ts));
    expect(largestGap(beats, from, to)).toBeLessThanOrEqual(HEARTBEAT_BUDGET_MS);
    expect(s.violations).toEqual([]);
  }, 90_000);
});
