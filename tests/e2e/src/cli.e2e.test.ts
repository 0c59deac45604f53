import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { FrameType, type ExecResultPayload, type Frame, type RegisterPayload } from '@astraflow/protocol';
import { taskDataDirPath } from '@astraflow/runner';
import { startReferenceScheduler, type ReferenceScheduler } from '@astraflow/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanups, startCli } from './cli-harness.js';
import { TOKEN, scratch, sleep, task } from './harness.js';

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

async function scheduler(options: Parameters<typeof startReferenceScheduler>[0] = {}): Promise<ReferenceScheduler> {
  const s = await startReferenceScheduler({ token: TOKEN, seed: 23, ...options });
  cleanups.push(() => s.close());
  return s;
}

async function install(s: ReferenceScheduler, baseUrl: string, name: string): Promise<Frame> {
  const archive = sampleArchive(name, '1.0.0');
  const file = archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '');
  return s.installPackage({ name, version: '1.0.0', url: `${baseUrl.replace(/\/$/, '')}/${file}`, sha256: archive.sha256 });
}

const packageNames = (f: Frame): string[] => ((f.payload as RegisterPayload).packages ?? []).map((p) => p.name);

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('astraflow-worker binary', () => {
  it('installs over HTTP, runs tasks, uninstalls, and on SIGTERM delivers the running task before exiting 0', async () => {
    const s = await scheduler();
    const files = await s.serveFiles(sampleArchivesDir);
    const cli = await startCli({
      args: ['--scheduler-url', s.url, '--log-level', 'info', '--transport', 'websocket'],
      env: {
        ASTRA_WORKER_AUTH_TOKEN: TOKEN,
        ASTRA_WORKER_SHUTDOWN_GRACE_SECONDS: '20',
        ASTRA_WORKER_HTTP_ENABLED: 'true',
        ASTRA_WORKER_HTTP_PORT: '0',
      },
    });
    await s.waitForSession(undefined, 15_000);
    const health = String((await cli.waitForLog((e) => e.msg === 'health endpoint listening')).url);
    expect((await fetch(`${health}/readyz`)).status).toBe(200);

    // Install: event `installed`, then a re-register that lists the package.
    const installed = await install(s, files.baseUrl, 'echo');
    expect(installed.payload).toMatchObject({ name: 'echo', version: '1.0.0', status: 'installed' });
    await s.waitFor((f) => f.type === FrameType.REGISTER && packageNames(f).includes('echo'), 10_000);

    const ok = await s.dispatch(task('echo.echo', { message: 'hi' })).done;
    expect(ok.type).toBe(FrameType.EXEC_RESULT);
    expect(ok.payload).toMatchObject({ status: 'SUCCEEDED', result: { echo: 'hi' } });
    const failed = await s.dispatch(task('echo.fail')).done;
    expect(failed.type).toBe(FrameType.EXEC_ERROR);
    expect(failed.payload).toMatchObject({ code: 'E.RUNNER.FAILURE' });

    // Uninstall: reported by a re-register without it; no biz.pkg.event (the existing scheduler accepts installed|failed only).
    const registersBefore = s.registers.length;
    await s.send(FrameType.PKG_UNINSTALL, { name: 'echo', version: '1.0.0' });
    await waitUntil(() => s.registers.length > registersBefore, 10_000, 're-register after uninstall');
    const statuses = s.delivered
      .filter((f) => f.type === FrameType.PKG_EVENT)
      .map((f) => (f.payload as { status: string }).status);
    expect(statuses.every((st) => st === 'installed' || st === 'failed')).toBe(true);
    expect(packageNames(s.registers.at(-1)!)).not.toContain('echo');
    const gone = await s.dispatch(task('echo.echo', { message: 'again' })).done;
    expect(gone.type).toBe(FrameType.EXEC_ERROR);

    // SIGTERM while a task runs: the task finishes and its result arrives before the process exits 0.
    expect((await install(s, files.baseUrl, 'samples')).payload).toMatchObject({ status: 'installed' });
    const slow = task('samples.slow', { ms: 1500 });
    const events: string[] = [];
    s.onFrame((f) => {
      if (f.type === FrameType.EXEC_RESULT && (f.payload as ExecResultPayload).task_id === slow.task_id) events.push('result');
    });
    void cli.exited.then(() => events.push('exit'));
    const running = s.dispatch(slow);
    // samples.slow writes its ledger when it starts.
    const ledger = join(taskDataDirPath(join(cli.dir, 'var', 'data'), slow.run_id, slow.task_id), 'runs.log');
    await waitUntil(() => existsSync(ledger), 10_000, 'samples.slow to start');
    cli.child.kill('SIGTERM');
    await cli.waitForLog((e) => e.msg === 'draining: no new tasks');
    // Draining: not ready any more, and new work is refused.
    expect((await fetch(`${health}/readyz`)).status).toBe(503);
    const refused = await s.dispatch(task('samples.slow', { ms: 10 })).done;
    expect(refused.payload).toMatchObject({ code: 'E.RUNNER.CANCELLED', context: { details: { reason: 'draining' } } });

    const answer = await running.done;
    expect(answer.type).toBe(FrameType.EXEC_RESULT);
    expect(answer.payload).toMatchObject({ status: 'SUCCEEDED', result: { slept_ms: 1500, runs: 1 } });
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(events).toEqual(['result', 'exit']);
    expect(s.violations).toEqual([]);

    // Not a TTY: every stdout line is one JSON object, and the token is nowhere.
    const stdout = cli.lines.filter((l) => l.length > 0);
    expect(stdout.length).toBeGreaterThan(5);
    for (const line of stdout) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(cli.lines.join('\n')).not.toContain(TOKEN);
    expect(cli.stderr()).toBe('');
  });

  it('runs offline with --transport dummy, loading the in-memory transport only then, and exits 0 on SIGTERM', async () => {
    const cli = await startCli({ args: ['--transport', 'dummy', '--log-level', 'info'] });
    await cli.waitForLog((e) => e.msg === 'session ready', 15_000);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stderr()).toBe('');
  });

  it('exits at once with 130 on a second signal, without waiting for the running task', async () => {
    const s = await scheduler();
    const files = await s.serveFiles(sampleArchivesDir);
    const cli = await startCli({ args: ['--scheduler-url', s.url], env: { ASTRA_WORKER_AUTH_TOKEN: TOKEN } });
    await s.waitForSession(undefined, 15_000);
    expect((await install(s, files.baseUrl, 'samples')).payload).toMatchObject({ status: 'installed' });
    const slow = task('samples.slow', { ms: 60_000 });
    let answered = false;
    void s.dispatch(slow).done.then(
      () => (answered = true),
      () => {},
    );
    const ledger = join(taskDataDirPath(join(cli.dir, 'var', 'data'), slow.run_id, slow.task_id), 'runs.log');
    await waitUntil(() => existsSync(ledger), 10_000, 'samples.slow to start');
    cli.child.kill('SIGINT');
    await cli.waitForLog((e) => e.msg === 'draining: no new tasks');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toEqual({ code: 130, signal: null });
    expect(answered).toBe(false);
    expect(cli.stderr()).toMatch(/^astraflow-worker: second SIGINT, exiting without waiting for in-flight tasks\n$/);
  });

  it('exits 3 with one line that does not contain the token when the token is wrong and abort-on-auth is set', async () => {
    const s = await scheduler();
    const wrong = 'wrong-secret-value-1234';
    const cli = await startCli({
      args: ['--scheduler-url', s.url],
      env: { ASTRA_WORKER_AUTH_TOKEN: wrong, ASTRA_WORKER_RECONNECT_ABORT_ON_AUTH_ERROR: 'yes' },
    });
    const { code } = await cli.exited;
    expect(code).toBe(3);
    const stderr = cli.stderr();
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(/^astraflow-worker: .*\[E\.AUTH\.[A-Z_]+\]\n$/);
    expect(stderr).not.toContain(wrong);
    expect(cli.lines.join('\n')).not.toContain(wrong);
  });

  it("starts from a Python worker's YAML file with one warning naming the keys it does not use", async () => {
    const s = await scheduler();
    const cli = await startCli({
      args: ['--scheduler-url', s.url],
      env: { ASTRA_WORKER_AUTH_TOKEN: TOKEN },
      config: [
        'worker_id: py-worker-1',
        'config_path: /etc/astraflow/worker.yaml',
        'log_level: WARNING',
        'tenant: default',
        '',
      ].join('\n'),
    });
    await s.waitForSession(undefined, 15_000);
    const warnings = cli.lines.filter((line) => line.includes('only the Python worker uses'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 'warn', msg: expect.stringContaining('worker_id, config_path') });
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    expect(s.violations).toEqual([]);
  });

  it('exits 2 with one line naming the field and its source on bad settings, and on an unknown flag', async () => {
    // An empty config file: the file would otherwise win over the environment.
    const bad = await startCli({ config: '', env: { ASTRA_WORKER_HEARTBEAT_INTERVAL_SECONDS: 'soon' } });
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr()).toMatch(
      /^astraflow-worker: invalid heartbeat_interval_seconds from ASTRA_WORKER_HEARTBEAT_INTERVAL_SECONDS: .*\[E\.CONFIG\.INVALID\]\n$/,
    );
    expect(bad.lines.join('')).toBe('');

    const typo = await startCli({ config: 'heartbeat_interval_secs: 5\n' });
    expect((await typo.exited).code).toBe(2);
    expect(typo.stderr()).toContain('did you mean heartbeat_interval_seconds');
    expect(typo.stderr().split('\n').filter(Boolean)).toHaveLength(1);

    const flag = await startCli({ args: ['--schedular-url', 'ws://x'] });
    expect((await flag.exited).code).toBe(2);
    expect(flag.stderr()).toMatch(/^astraflow-worker: .*--schedular-url.*\(see --help\) \[E\.CONFIG\.INVALID\]\n$/);
  });

  it('prints --help and --version and exits 0', async () => {
    const help = await startCli({ args: ['--help'] });
    expect((await help.exited).code).toBe(0);
    expect(help.lines.join('\n')).toContain('Usage: astraflow-worker [options]');
    for (const flag of ['--config', '--scheduler-url', '--log-level', '--transport']) {
      expect(help.lines.join('\n')).toContain(flag);
    }
    const version = await startCli({ args: ['--version'] });
    expect((await version.exited).code).toBe(0);
    const pkg = createRequire(import.meta.url)('@astraflow/worker-cli/package.json') as { version: string };
    expect(version.lines[0]).toBe(pkg.version);
  });
});

describe('astraflow-worker pack / validate', () => {
  const examplesDir = dirname(createRequire(import.meta.url).resolve('@astraflow/examples/package.json'));

  it('packs a sample package into an archive that installs over HTTP with the printed sha256 and runs', async () => {
    const out = await scratch('astra-pack-');
    cleanups.push(() => rm(out, { recursive: true, force: true }));
    const s = await scheduler();
    const files = await s.serveFiles(out);
    const url = `${files.baseUrl.replace(/\/$/, '')}/samples.tgz`;
    const packed = await startCli({
      args: ['pack', join(examplesDir, 'packages', 'samples'), '--out', join(out, 'samples.tgz'), '--url', url],
    });
    expect(await packed.exited).toEqual({ code: 0, signal: null });
    expect(packed.lines[0]).toMatch(/^ok: samples@1\.0\.0 \(runtime node; 12 node types: /);
    expect(packed.lines[1]).toBe("catalog: the manifest passes the scheduler's manifest schema");
    const payloadLine = packed.lines.find((l) => l.startsWith('biz.pkg.install: '))!;
    const payload = JSON.parse(payloadLine.slice('biz.pkg.install: '.length)) as {
      name: string;
      version: string;
      url: string;
      sha256: string;
    };
    expect(payload).toMatchObject({ name: 'samples', version: '1.0.0', url });
    expect(packed.lines).toContain(`sha256: ${payload.sha256}`);
    // Deterministic: the same bytes as the examples build of the same folder.
    expect(payload.sha256).toBe(sampleArchive('samples', '1.0.0').sha256);

    const cli = await startCli({ args: ['--scheduler-url', s.url], env: { ASTRA_WORKER_AUTH_TOKEN: TOKEN } });
    await s.waitForSession(undefined, 15_000);
    expect((await s.installPackage(payload)).payload).toMatchObject({ name: 'samples', status: 'installed' });
    const answer = await s.dispatch(task('samples.status', { status: 'ok' })).done;
    expect(answer.payload).toMatchObject({ status: 'SUCCEEDED' });
    cli.child.kill('SIGTERM');
    expect((await cli.exited).code).toBe(0);
    expect(s.violations).toEqual([]);
  });

  it('validate names the problem of a broken package and exits non-zero; the older form validates with a catalog note', async () => {
    const dir = await scratch('astra-broken-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const { mkdir, readFile } = await import('node:fs/promises');
    await mkdir(join(dir, 'adapters'));
    await writeFile(join(dir, 'manifest.json'), await readFile(join(examplesDir, 'packages', 'echo', 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await writeFile(join(dir, 'adapters', 'echo.js'), 'export const echo = (ctx) => ({ echo: ctx.params.message });\n');
    const broken = await startCli({ args: ['validate', dir] });
    expect((await broken.exited).code).toBe(1);
    expect(broken.stderr()).toMatch(
      /^astraflow-worker: node "echo\.fail" handler "fail" .*is not a function exported by .*\[E\.PKG\.INVALID\]\n$/,
    );

    const old = await startCli({ args: ['validate', join(examplesDir, 'packages', 'echo-2')] });
    expect((await old.exited).code).toBe(0);
    expect(old.lines[0]).toBe('ok: echo@2.0.0 (runtime node; 2 node types: echo.echo, echo.fail)');
    expect(old.lines[1]).toMatch(/^catalog: the scheduler's catalog would refuse this manifest .*required property 'python'/);

    const usage = await startCli({ args: ['pack'] });
    expect((await usage.exited).code).toBe(2);
  });
});
