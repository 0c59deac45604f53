import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, removeSandboxes } from './sandbox.test.helper.js';

afterAll(removeSandboxes);

describe('loadSettings: defaults', () => {
  it('uses the documented defaults when nothing is configured', () => {
    const box = createSandbox();
    const s = box.load();
    const ownVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
    expect(s.scheduler_ws_url).toBe('ws://localhost:8080/ws/worker');
    expect(s.tenant).toBe('default');
    expect(s.worker_version).toBe(ownVersion);
    expect(s.auth_token).toBeUndefined();
    expect(s.payload_types).toBeUndefined();
    expect(s.worker_instance_id_file).toBeUndefined();
    expect(s.runtime_names).toEqual(['node']);
    expect(s.log_level).toBe('info');
    expect(s.packages_dir).toBe(join(box.dir, 'node-packages'));
    expect(s.data_dir).toBe(join(box.dir, 'var', 'data'));
    expect(s.http_port).toBe(9464);
    expect(s.max_frame_bytes).toBe(16_777_216);
  });
});

describe('loadSettings: precedence explicit > file > env > .env > default', () => {
  // Each row: a field and the value each level gives it (explicit, file, env, .env) plus the default.
  const rows = [
    { field: 'tenant', values: ['from-explicit', 'from-file', 'from-env', 'from-dotenv'], fallback: 'default' },
    { field: 'heartbeat_interval_seconds', values: [4, 3, 2, 1], fallback: 30 },
    { field: 'http_enabled', values: [true, false, true, false], fallback: false },
    { field: 'runtime_names', values: [['a'], ['b'], ['c'], ['d']], fallback: ['node'] },
  ] as const;
  const envText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

  for (const row of rows) {
    it(`each level beats the next for ${row.field}`, () => {
      const env = `ASTRA_WORKER_${row.field.toUpperCase()}`;
      const [explicitValue, fileValue, envValue, dotenvValue] = row.values;
      for (let top = 0; top <= 4; top++) {
        const box = createSandbox();
        const config = box.write('worker.json', JSON.stringify(top <= 1 ? { [row.field]: fileValue } : {}));
        if (top <= 3) box.write('.env', `${env}=${envText(dotenvValue)}\n`);
        const s = box.load(top <= 0 ? { [row.field]: explicitValue } : {}, {
          env: top <= 2 ? { [env]: envText(envValue) } : {},
          defaultPaths: [config],
        });
        const expected = [explicitValue, fileValue, envValue, dotenvValue, row.fallback][top];
        expect(s[row.field], `level ${top}`).toEqual(expected);
      }
    });
  }

  it('merges per field: each field comes from the highest source that sets it', () => {
    const box = createSandbox();
    const config = box.write('c.yaml', 'tenant: t-file\n');
    box.write('.env', 'ASTRA_WORKER_WORKER_NAME=w-dotenv\nASTRA_WORKER_SESSION_WINDOW_SIZE=7\n');
    const s = box.load(
      { heartbeat_jitter_seconds: 1 },
      { env: { ASTRA_WORKER_SESSION_WINDOW_SIZE: '9' }, defaultPaths: [config] },
    );
    expect(s.tenant).toBe('t-file');
    expect(s.worker_name).toBe('w-dotenv');
    expect(s.session_window_size).toBe(9);
    expect(s.heartbeat_jitter_seconds).toBe(1);
    expect(s.heartbeat_interval_seconds).toBe(30);
  });

  it('validates only the winning value: a bad overridden value is not an error', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_WORKER_SESSION_WINDOW_SIZE=garbage\n');
    const s = box.load({}, { env: { ASTRA_WORKER_SESSION_WINDOW_SIZE: '5' } });
    expect(s.session_window_size).toBe(5);
  });

  it('treats an explicit undefined as not given and an empty env value as unset', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_WORKER_TENANT=t-dotenv\nASTRA_WORKER_AUTH_TOKEN=\n');
    const s = box.load({ tenant: undefined }, { env: { ASTRA_WORKER_TENANT: '' } });
    expect(s.tenant).toBe('t-dotenv');
    expect(s.auth_token).toBeUndefined();
  });

  it('reads .env without touching process.env', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_WORKER_TENANT=only-in-dotenv\n');
    const before = { ...process.env };
    expect(box.load().tenant).toBe('only-in-dotenv');
    expect(process.env).toEqual(before);
    expect(process.env.ASTRA_WORKER_TENANT).toBeUndefined();
  });

  it('ignores unknown ASTRA_WORKER_* variables in env and .env', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_WORKER_NOT_A_SETTING=1\n');
    const s = box.load({}, { env: { ASTRA_WORKER_ALSO_UNKNOWN: 'x', ASTRA_WORKER_TENANT: 't' } });
    expect(s.tenant).toBe('t');
    expect(Object.keys(s)).not.toContain('not_a_setting');
  });

  it('rejects unknown explicit keys', () => {
    const box = createSandbox();
    const error = box.loadError({ tenat: 'x' } as never);
    expect(error.message).toBe('unknown setting "tenat" in explicit settings (did you mean tenant?)');
    expect(error.details).toEqual({ field: 'tenat', source: 'explicit' });
  });
});

describe('loadSettings: config file discovery', () => {
  it('picks the first existing default path, in order, relative ones against cwd', () => {
    const box = createSandbox();
    const paths = [
      join(box.dir, 'etc', 'worker.yaml'),
      join(box.dir, 'etc', 'worker.yml'),
      './config/worker.yaml',
      './config/worker.yml',
    ];
    const files = paths.map((p, i) => box.write(p.startsWith('./') ? p : p.slice(box.dir.length + 1), `tenant: t${i}\n`));
    for (let i = 0; i < files.length; i++) {
      expect(box.load({}, { defaultPaths: paths }).tenant, `with paths ${i}.. present`).toBe(`t${i}`);
      rmSync(files[i] as string);
    }
    expect(box.load({}, { defaultPaths: paths }).tenant).toBe('default');
  });

  it('prefers ASTRA_WORKER_CONFIG_FILE over every default path and resolves it against cwd', () => {
    const box = createSandbox();
    const fallback = box.write('config/worker.yaml', 'tenant: from-default-path\n');
    box.write('custom/w.yaml', 'tenant: from-named-file\n');
    const s = box.load({}, { env: { ASTRA_WORKER_CONFIG_FILE: 'custom/w.yaml' }, defaultPaths: [fallback] });
    expect(s.tenant).toBe('from-named-file');
  });

  it('reads ASTRA_WORKER_CONFIG_FILE from .env too, with the environment winning', () => {
    const box = createSandbox();
    box.write('a.yaml', 'tenant: a\n');
    box.write('b.yaml', 'tenant: b\n');
    box.write('.env', 'ASTRA_WORKER_CONFIG_FILE=a.yaml\n');
    expect(box.load().tenant).toBe('a');
    expect(box.load({}, { env: { ASTRA_WORKER_CONFIG_FILE: 'b.yaml' } }).tenant).toBe('b');
  });

  it('fails when the named config file does not exist, naming the path', () => {
    const box = createSandbox();
    const error = box.loadError({}, { env: { ASTRA_WORKER_CONFIG_FILE: 'nope/worker.yaml' } });
    const missing = join(box.dir, 'nope', 'worker.yaml');
    expect(error.message).toBe(`config file ${missing} (from ASTRA_WORKER_CONFIG_FILE) does not exist`);
    expect(error.details).toEqual({ source: 'ASTRA_WORKER_CONFIG_FILE', path: missing });
  });

  it('reads JSON files as JSON and keeps YAML types', () => {
    const box = createSandbox();
    const json = box.write('w.json', '{"session_window_size": 12, "feature_flags": ["x"], "auth_mode": "mtls"}');
    expect(box.load({}, { defaultPaths: [json] })).toMatchObject({
      session_window_size: 12,
      feature_flags: ['x'],
      auth_mode: 'mtls',
    });
    const yaml = box.write(
      'w.yaml',
      [
        'session_window_size: 13',
        'concurrency_per_node_limits:',
        '  gpu: 2',
        'runtime_names: [node, deno]',
        'http_enabled: yes',
        'heartbeat_interval_seconds: "2.5"',
        '',
      ].join('\n'),
    );
    expect(box.load({}, { defaultPaths: [yaml] })).toMatchObject({
      session_window_size: 13,
      concurrency_per_node_limits: { gpu: 2 },
      runtime_names: ['node', 'deno'],
      http_enabled: true,
      heartbeat_interval_seconds: 2.5,
    });
  });

  it('treats an empty or comment-only YAML file as an empty mapping', () => {
    const box = createSandbox();
    const empty = box.write('empty.yaml', '');
    const comments = box.write('comments.yaml', '# tenant: x\n');
    expect(box.load({}, { defaultPaths: [empty] }).tenant).toBe('default');
    expect(box.load({}, { defaultPaths: [comments] }).tenant).toBe('default');
  });

  it('rejects malformed YAML naming the path and the position', () => {
    const box = createSandbox();
    const path = box.write('bad.yaml', 'tenant: ok\nworker_name: [unclosed\n');
    const error = box.loadError({}, { defaultPaths: [path] });
    expect(error.message).toMatch(new RegExp(`^malformed YAML in config file ${path}: .+ at line \\d+, column \\d+$`));
    expect(error.details).toEqual({ source: path, path });
  });

  it('rejects duplicate YAML keys', () => {
    const box = createSandbox();
    const path = box.write('dup.yaml', 'tenant: a\ntenant: b\n');
    expect(box.loadError({}, { defaultPaths: [path] }).message).toContain(`malformed YAML in config file ${path}`);
  });

  it('rejects malformed JSON naming the path', () => {
    const box = createSandbox();
    const truncated = box.write('a.json', '{"tenant": "x"');
    const badToken = box.write('b.json', '{"tenant": x}');
    expect(box.loadError({}, { defaultPaths: [truncated] }).message).toMatch(
      new RegExp(`^malformed JSON in config file ${truncated}: .+`),
    );
    const error = box.loadError({}, { defaultPaths: [badToken] });
    expect(error.message).toMatch(new RegExp(`^malformed JSON in config file ${badToken}`));
    expect(error.details).toEqual({ source: badToken, path: badToken });
  });

  it.each([
    ['list.yaml', '- tenant: a\n', 'a list'],
    ['scalar.yaml', 'just-a-string\n', 'a string'],
    ['number.yaml', '42\n', 'a number'],
    ['list.json', '[1, 2]', 'a list'],
    ['scalar.json', '"x"', 'a string'],
    ['null.json', 'null', 'null'],
  ])('rejects a top level that is not a mapping (%s)', (name, content, what) => {
    const box = createSandbox();
    const path = box.write(name, content);
    const error = box.loadError({}, { defaultPaths: [path] });
    expect(error.message).toBe(
      `config file ${path} must hold a mapping of setting names to values at the top level, got ${what}`,
    );
  });

  it('rejects unknown keys in the file, naming key and path', () => {
    const box = createSandbox();
    const path = box.write('w.yaml', 'tenant: a\nheartbeat_interval_secs: 3\n');
    const error = box.loadError({}, { defaultPaths: [path] });
    expect(error.message).toBe(
      `unknown setting "heartbeat_interval_secs" in config file ${path} (did you mean heartbeat_interval_seconds?)`,
    );
    expect(error.details).toEqual({ field: 'heartbeat_interval_secs', source: path, path });
    const far = box.write('far.yaml', 'completely_unrelated: 1\n');
    expect(box.loadError({}, { defaultPaths: [far] }).message).toBe(
      `unknown setting "completely_unrelated" in config file ${far}`,
    );
  });

  it("takes a Python worker's file: its keys we do not use give one warning, log_level CRITICAL works", () => {
    const box = createSandbox();
    const path = box.write(
      'py.yaml',
      'tenant: a\nworker_id: worker-7\nconfig_path: /etc/astraflow/worker.yaml\nlog_level: CRITICAL\n',
    );
    const warnings: string[] = [];
    const s = box.load({}, { defaultPaths: [path], onWarning: (m) => warnings.push(m) });
    expect(s.tenant).toBe('a');
    expect(s.log_level).toBe('fatal');
    expect(warnings).toEqual([`config file ${path}: ignoring settings only the Python worker uses: worker_id, config_path`]);
    expect(Object.keys(s)).not.toContain('worker_id');
    // A truly unknown key beside them is still an error.
    const bad = box.write('bad.yaml', 'worker_id: w\nteant: a\n');
    expect(box.loadError({}, { defaultPaths: [bad] }).message).toBe(
      `unknown setting "teant" in config file ${bad} (did you mean tenant?)`,
    );
    // Python-only keys are not settings: explicitly they are still refused.
    expect(box.loadError({ worker_id: 'w' } as never).message).toMatch(/^unknown setting "worker_id" in explicit settings/);
  });

  it('fails when a config path is a folder', () => {
    const box = createSandbox();
    box.write('config/worker.yaml/keep', '');
    const error = box.loadError({}, { defaultPaths: ['./config/worker.yaml'] });
    expect(error.message).toBe(`cannot read config file ${join(box.dir, 'config', 'worker.yaml')}: EISDIR`);
  });

  it('null in the file unsets an optional field but is an error for a required one', () => {
    const box = createSandbox();
    const optional = box.write('o.yaml', 'auth_fingerprint: null\n');
    expect(
      box.load({}, { env: { ASTRA_WORKER_AUTH_FINGERPRINT: 'ab:cd' }, defaultPaths: [optional] }).auth_fingerprint,
    ).toBeUndefined();
    const required = box.write('r.yaml', 'tenant:\n');
    expect(box.loadError({}, { defaultPaths: [required] }).message).toBe(
      `invalid tenant from ${required}: expected a non-empty string, got null`,
    );
  });

  it('keeps file types strict for strings: a YAML number is not a tenant', () => {
    const box = createSandbox();
    const path = box.write('w.yaml', 'worker_version: 1.10\n');
    expect(box.loadError({}, { defaultPaths: [path] }).message).toBe(
      `invalid worker_version from ${path}: expected a non-empty string, got 1.1`,
    );
  });
});

describe('loadSettings: packages_dir and paths', () => {
  it('takes ASTRA_PACKAGES_ROOT, with ASTRA_WORKER_PACKAGES_DIR winning at the same level', () => {
    const box = createSandbox();
    expect(box.load({}, { env: { ASTRA_PACKAGES_ROOT: '/opt/root' } }).packages_dir).toBe('/opt/root');
    expect(box.load({}, { env: { ASTRA_PACKAGES_ROOT: '/opt/root', ASTRA_WORKER_PACKAGES_DIR: '/opt/dir' } }).packages_dir).toBe(
      '/opt/dir',
    );
  });

  it('ranks env over .env whichever of the two names is used', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_WORKER_PACKAGES_DIR=/from/dotenv-dir\n');
    expect(box.load({}, { env: { ASTRA_PACKAGES_ROOT: '/from/env-root' } }).packages_dir).toBe('/from/env-root');
    expect(box.load().packages_dir).toBe('/from/dotenv-dir');
    box.write('.env', 'ASTRA_PACKAGES_ROOT=/from/dotenv-root\nASTRA_WORKER_PACKAGES_DIR=/from/dotenv-dir\n');
    expect(box.load().packages_dir).toBe('/from/dotenv-dir');
    box.write('.env', 'ASTRA_PACKAGES_ROOT=/from/dotenv-root\n');
    expect(box.load().packages_dir).toBe('/from/dotenv-root');
  });

  it('lets the file and explicit values beat both env names', () => {
    const box = createSandbox();
    const path = box.write('w.yaml', 'packages_dir: /from/file\n');
    const env = { ASTRA_PACKAGES_ROOT: '/a', ASTRA_WORKER_PACKAGES_DIR: '/b' };
    expect(box.load({}, { env, defaultPaths: [path] }).packages_dir).toBe('/from/file');
    expect(box.load({ packages_dir: '/from/explicit' }, { env, defaultPaths: [path] }).packages_dir).toBe('/from/explicit');
  });

  it('rejects an explicit empty packages_dir rather than falling back to ASTRA_PACKAGES_ROOT', () => {
    const box = createSandbox();
    box.write('.env', 'ASTRA_PACKAGES_ROOT=/ok\n');
    const error = box.loadError({ packages_dir: '' });
    expect(error.details).toEqual({ field: 'packages_dir', source: 'explicit' });
  });

  it('makes paths absolute: relative against cwd, ~ from HOME, absolute ones normalised', () => {
    const box = createSandbox();
    const env = { HOME: '/home/astra' };
    const s = box.load(
      { packages_dir: 'pk', data_dir: '~/data', tls_ca_file: '~', tls_cert_file: '/etc/x/../c.pem', tls_key_file: './k.pem' },
      { env },
    );
    expect(s.packages_dir).toBe(join(box.dir, 'pk'));
    expect(s.data_dir).toBe('/home/astra/data');
    expect(s.tls_ca_file).toBe('/home/astra');
    expect(s.tls_cert_file).toBe('/etc/c.pem');
    expect(s.tls_key_file).toBe(join(box.dir, 'k.pem'));
    const fromEnv = box.load(
      {},
      { env: { ...env, ASTRA_WORKER_WORKER_INSTANCE_ID_FILE: '~/id', ASTRA_PACKAGES_ROOT: 'rel/pk' } },
    );
    expect(fromEnv.worker_instance_id_file).toBe('/home/astra/id');
    expect(fromEnv.packages_dir).toBe(join(box.dir, 'rel', 'pk'));
  });
});

describe('loadSettings: cross-field checks', () => {
  it('requires ack_retry_max_ms ≥ ack_retry_base_ms, blaming the field set by the stronger source', () => {
    const box = createSandbox();
    const error = box.loadError({}, { env: { ASTRA_WORKER_ACK_RETRY_BASE_MS: '9000' } });
    expect(error.message).toBe(
      'invalid ack_retry_base_ms from ASTRA_WORKER_ACK_RETRY_BASE_MS: expected a value ≤ ack_retry_max_ms (5000), got 9000',
    );
    const other = box.loadError({ ack_retry_max_ms: 100 });
    expect(other.message).toBe('invalid ack_retry_max_ms from explicit: expected a value ≥ ack_retry_base_ms (200), got 100');
    expect(box.load({ ack_retry_base_ms: 300, ack_retry_max_ms: 300 }).ack_retry_max_ms).toBe(300);
  });

  it('requires reconnect_max_delay_seconds ≥ reconnect_base_delay_seconds', () => {
    const box = createSandbox();
    const error = box.loadError({ reconnect_max_delay_seconds: 0.5 });
    expect(error.details).toEqual({ field: 'reconnect_max_delay_seconds', source: 'explicit' });
  });

  it('requires tls_cert_file and tls_key_file together', () => {
    const box = createSandbox();
    expect(box.loadError({ tls_cert_file: '/c.pem' }).message).toBe(
      'invalid tls_cert_file from explicit: expected tls_key_file to be set as well (mTLS needs both)',
    );
    expect(box.loadError({}, { env: { ASTRA_WORKER_TLS_KEY_FILE: '/k.pem' } }).details).toEqual({
      field: 'tls_key_file',
      source: 'ASTRA_WORKER_TLS_KEY_FILE',
    });
  });
});

describe('loadSettings: result', () => {
  it('is deeply frozen and does not freeze the caller objects', () => {
    const box = createSandbox();
    const names = ['node'];
    const limits = { gpu: 1 };
    const s = box.load({ runtime_names: names, concurrency_per_node_limits: limits });
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.runtime_names)).toBe(true);
    expect(Object.isFrozen(s.concurrency_per_node_limits)).toBe(true);
    expect(Object.isFrozen(s.feature_flags)).toBe(true);
    expect(() => {
      (s as { tenant: string }).tenant = 'changed';
    }).toThrow(TypeError);
    expect(Object.isFrozen(names)).toBe(false);
    expect(Object.isFrozen(limits)).toBe(false);
    // A later load still gets its own, intact defaults.
    expect(box.load().runtime_names).toEqual(['node']);
  });
});

describe('loadSettings: auth_token never appears in errors', () => {
  const token = 'tok-7f3a9c-very-secret';

  it('hides the token when the token itself is invalid', () => {
    const box = createSandbox();
    const path = box.write('w.yaml', 'auth_token: 123456789\n');
    const error = box.loadError({}, { defaultPaths: [path] });
    expect(error.message).toBe(`invalid auth_token from ${path}: expected a non-empty string, got <hidden>`);
    expect(error.message).not.toContain('123456789');
  });

  it('scrubs a token pasted into another field', () => {
    const box = createSandbox();
    const error = box.loadError({ auth_mode: token }, { env: { ASTRA_WORKER_AUTH_TOKEN: token } });
    expect(error.message).toBe('invalid auth_mode from explicit: expected one of token, mtls, got "***"');
    const fromFile = box.write('w.yaml', `auth_token: ${token}\ntenant: [${token}]\n`);
    const second = box.loadError({}, { defaultPaths: [fromFile] });
    expect(second.message).not.toContain(token);
    expect(JSON.stringify(second.details)).not.toContain(token);
  });

  it('does not quote file content in JSON or YAML syntax errors', () => {
    const box = createSandbox();
    const json = box.write('w.json', `{"auth_token": ${token}}`);
    const jsonError = box.loadError({}, { defaultPaths: [json] });
    expect(jsonError.message).not.toContain(token);
    expect(jsonError.message).not.toContain('tok-');
    const yaml = box.write('w.yaml', `auth_token: "${token}\nother: [\n`);
    expect(box.loadError({}, { defaultPaths: [yaml] }).message).not.toContain(token);
  });

  it('hides user info embedded in rejected URLs', () => {
    const box = createSandbox();
    const error = box.loadError({}, { env: { ASTRA_WORKER_SCHEDULER_WS_URL: `http://user:${token}@host/ws` } });
    expect(error.message).toBe(
      'invalid scheduler_ws_url from ASTRA_WORKER_SCHEDULER_WS_URL: expected a ws:// or wss:// URL, got "http://host/ws"',
    );
  });
});
