import { AstraError } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { SETTING_FLAGS, USAGE, parseCliArgs } from './cli-args.js';

function configError(argv: string[]): AstraError {
  try {
    parseCliArgs(argv);
  } catch (err) {
    if (AstraError.isInstance(err)) return err;
    throw err;
  }
  throw new Error(`parseCliArgs(${JSON.stringify(argv)}) did not throw`);
}

describe('parseCliArgs', () => {
  it('returns no overrides and no flags for an empty command line', () => {
    expect(parseCliArgs([])).toEqual({ help: false, version: false, overrides: {} });
  });

  it('maps each setting flag to its setting', () => {
    const args = parseCliArgs([
      '--scheduler-url',
      'wss://scheduler.example/ws/worker',
      '--log-level=debug',
      '--transport',
      'dummy',
      '--tenant',
      'acme',
      '--worker-name',
      'w1',
      '--http-port',
      '9100',
    ]);
    expect(args.overrides).toEqual({
      scheduler_ws_url: 'wss://scheduler.example/ws/worker',
      log_level: 'debug',
      transport: 'dummy',
      tenant: 'acme',
      worker_name: 'w1',
      http_port: '9100',
    });
    expect(args.configFile).toBeUndefined();
  });

  it('takes the config file from --config and -c', () => {
    expect(parseCliArgs(['--config', 'conf/w.yaml']).configFile).toBe('conf/w.yaml');
    expect(parseCliArgs(['-c', '/etc/w.json']).configFile).toBe('/etc/w.json');
  });

  it('reads --help, -h, --version and -v', () => {
    expect(parseCliArgs(['--help']).help).toBe(true);
    expect(parseCliArgs(['-h']).help).toBe(true);
    expect(parseCliArgs(['--version']).version).toBe(true);
    expect(parseCliArgs(['-v']).version).toBe(true);
  });

  it('lets the last of a repeated flag win', () => {
    expect(parseCliArgs(['--tenant', 'a', '--tenant', 'b']).overrides).toEqual({ tenant: 'b' });
  });

  it('ignores one leading `--`, as `pnpm start -- --help` passes it', () => {
    expect(parseCliArgs(['--', '--help']).help).toBe(true);
    expect(parseCliArgs(['--', '--tenant', 't']).overrides).toEqual({ tenant: 't' });
  });

  it('refuses unknown flags, positionals and missing values with E.CONFIG.INVALID pointing at --help', () => {
    for (const argv of [['--schedular-url', 'ws://x'], ['run'], ['--tenant'], ['--', '--', '--help'], ['-x']]) {
      const err = configError(argv);
      expect(err.code, argv.join(' ')).toBe('E.CONFIG.INVALID');
      expect(err.message).toMatch(/\(see --help\)$/);
      expect(err.message).not.toContain('\n');
    }
  });

  it('refuses a value for a boolean flag', () => {
    expect(configError(['--help=yes']).code).toBe('E.CONFIG.INVALID');
  });

  it('documents every flag in the usage text', () => {
    for (const flag of [...Object.keys(SETTING_FLAGS), 'config', 'help', 'version']) {
      expect(USAGE, flag).toContain(`--${flag}`);
    }
  });
});
