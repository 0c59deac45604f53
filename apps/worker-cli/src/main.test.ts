import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '@astraflow/config';
import { ExitCode, main, watchdogTimeoutMs } from './main.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Runs main with captured streams and a config file of its own; returns the exit code and output. */
async function run(argv: string[], env: Record<string, string> = {}, config = '') {
  const dir = await mkdtemp(join(tmpdir(), 'astra-cli-unit-'));
  dirs.push(dir);
  await writeFile(join(dir, 'worker.yaml'), config);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const codes: number[] = [];
  await main({
    argv,
    env: { ASTRA_WORKER_CONFIG_FILE: join(dir, 'worker.yaml'), ...env },
    cwd: dir,
    stdout,
    stderr,
    exit: (code) => codes.push(code),
  });
  return { codes, out, err };
}

describe('main', () => {
  it('prints the usage for --help and exits 0', async () => {
    const { codes, out, err } = await run(['--help']);
    expect(codes).toEqual([ExitCode.OK]);
    expect(out).toMatch(/^Usage: astraflow-worker \[options\]/);
    expect(err).toBe('');
  });

  it('prints the package version for --version and exits 0', async () => {
    const { codes, out } = await run(['-v']);
    expect(codes).toEqual([ExitCode.OK]);
    expect(out).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?\n$/);
  });

  it('exits 2 with one line on an unknown flag', async () => {
    const { codes, err } = await run(['--nope']);
    expect(codes).toEqual([ExitCode.CONFIG]);
    expect(err).toMatch(/^astraflow-worker: .*'--nope'.*\[E\.CONFIG\.INVALID\]\n$/);
  });

  it('exits 2 naming the field and source of an invalid setting, flags included', async () => {
    const fromFlag = await run(['--transport', 'carrier-pigeon']);
    expect(fromFlag.codes).toEqual([ExitCode.CONFIG]);
    expect(fromFlag.err).toMatch(/^astraflow-worker: invalid transport from explicit: .*\n$/);

    const fromEnv = await run([], { ASTRA_WORKER_HTTP_PORT: '70000' });
    expect(fromEnv.codes).toEqual([ExitCode.CONFIG]);
    expect(fromEnv.err).toContain('ASTRA_WORKER_HTTP_PORT');
  });

  it('resolves --config against the cwd and lets it replace ASTRA_WORKER_CONFIG_FILE', async () => {
    const { codes, err } = await run(['--config', 'missing.yaml']);
    expect(codes).toEqual([ExitCode.CONFIG]);
    expect(err).toMatch(/config file \/.*\/missing\.yaml \(from ASTRA_WORKER_CONFIG_FILE\) does not exist/);
  });

  it('never prints the token of a rejected setting', async () => {
    const { codes, err } = await run([], {
      ASTRA_WORKER_AUTH_TOKEN: 'sup3r-s3cret',
      ASTRA_WORKER_SCHEDULER_WS_URL: 'http://sup3r-s3cret@x',
    });
    expect(codes).toEqual([ExitCode.CONFIG]);
    expect(err).not.toContain('sup3r-s3cret');
  });

  it('has one distinct exit code per cause', () => {
    const codes = Object.values(ExitCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(ExitCode).toMatchObject({ OK: 0, FAILURE: 1, CONFIG: 2, AUTH: 3, PROTOCOL: 4, WATCHDOG: 70, INTERRUPTED: 130 });
  });
});

describe('watchdogTimeoutMs', () => {
  const settings = (overrides: Record<string, unknown>) => loadSettings(overrides, { env: {}, defaultPaths: [] });
  it('is watchdog_timeout_seconds when set, else three heartbeat periods and at least 5 s', () => {
    expect(watchdogTimeoutMs(settings({ watchdog_timeout_seconds: 2 }))).toBe(2000);
    expect(watchdogTimeoutMs(settings({ heartbeat_interval_seconds: 30, heartbeat_jitter_seconds: 5 }))).toBe(105_000);
    expect(watchdogTimeoutMs(settings({ heartbeat_interval_seconds: 0.5, heartbeat_jitter_seconds: 0 }))).toBe(5000);
  });
});
