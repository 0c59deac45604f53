import { afterAll, describe, expect, it } from 'vitest';
import { createSandbox, removeSandboxes } from './sandbox.test.helper.js';
import { settingFields } from './setting-fields.js';
import type { Settings } from './settings.js';

afterAll(removeSandboxes);

const box = createSandbox();
const envName = (field: keyof Settings): string => `ASTRA_WORKER_${field.toUpperCase()}`;
const fromEnv = (field: keyof Settings, raw: string): unknown => box.load({}, { env: { [envName(field)]: raw } })[field];
const envError = (field: keyof Settings, raw: string): string => box.loadError({}, { env: { [envName(field)]: raw } }).message;

// [field, accepted env strings with their parsed values, rejected env strings]
type BoundRow = [keyof Settings, readonly (readonly [string, number])[], readonly string[]];
const bounds: readonly BoundRow[] = [
  [
    'handshake_protocol_version',
    [
      ['1', 1],
      ['3', 3],
    ],
    ['0', '1.5', '-1'],
  ],
  [
    'heartbeat_interval_seconds',
    [
      ['0.5', 0.5],
      ['30', 30],
      ['2147483', 2147483],
    ],
    ['0', '-1', '2147484'],
  ],
  [
    'heartbeat_jitter_seconds',
    [
      ['0', 0],
      ['2.5', 2.5],
    ],
    ['-0.1'],
  ],
  ['ack_retry_base_ms', [['1', 1]], ['0', '1.5']],
  [
    'ack_retry_max_ms',
    [
      ['200', 200],
      ['2147483647', 2147483647],
    ],
    ['0', '200.5', '2147483648'],
  ],
  [
    'ack_retry_attempts',
    [
      ['0', 0],
      ['10', 10],
    ],
    ['-1', '0.5'],
  ],
  ['session_accept_timeout_seconds', [['0.1', 0.1]], ['0', '-5']],
  [
    'session_window_size',
    [
      ['1', 1],
      ['512', 512],
    ],
    ['0', '2.5'],
  ],
  [
    'session_recv_stall_seconds',
    [
      ['0', 0],
      ['60', 60],
    ],
    ['-1', '2200000'],
  ],
  ['reconnect_base_delay_seconds', [['0.1', 0.1]], ['0']],
  [
    'reconnect_max_delay_seconds',
    [
      ['1', 1],
      ['600', 600],
    ],
    ['0', '-1'],
  ],
  [
    'reconnect_jitter',
    [
      ['0', 0],
      ['1', 1],
      ['0.5', 0.5],
    ],
    ['-0.01', '1.01'],
  ],
  [
    'transport_recv_queue_max',
    [
      ['0', 0],
      ['100', 100],
    ],
    ['-1', '1.5'],
  ],
  ['session_app_queue_max', [['0', 0]], ['-1', '0.5']],
  [
    'handler_dispatch_max_inflight',
    [
      ['0', 0],
      ['4', 4],
    ],
    ['-1', '2.5'],
  ],
  ['handler_dispatch_queue_max', [['0', 0]], ['-1']],
  [
    'handler_dispatch_queue_idle_seconds',
    [
      ['0', 0],
      ['0.5', 0.5],
    ],
    ['-1'],
  ],
  // 2 200 000 s once became a 1 ms timer (Node caps timers at 2^31 − 1 ms): refused at start-up now.
  [
    'handler_dispatch_timeout_seconds',
    [
      ['0', 0],
      ['1.5', 1.5],
    ],
    ['-0.5', '2200000'],
  ],
  [
    'handler_dispatch_max_failures',
    [
      ['0', 0],
      ['3', 3],
    ],
    ['-1', '1.5'],
  ],
  [
    'handler_dispatch_failure_cooldown_seconds',
    [
      ['0', 0],
      ['60', 60],
    ],
    ['-1'],
  ],
  [
    'handler_dispatch_max_queue_wait_seconds',
    [
      ['0', 0],
      ['2.5', 2.5],
    ],
    ['-1', '86401'],
  ],
  [
    'thread_pool_min_threads',
    [
      ['0', 0],
      ['1', 1],
    ],
    ['-1', '0.5', '1025'],
  ],
  [
    'thread_pool_max_threads',
    [
      ['1', 1],
      ['64', 64],
    ],
    ['0', '1.5', '1025'],
  ],
  [
    'thread_pool_idle_timeout_seconds',
    [
      ['0', 0],
      ['0.5', 0.5],
    ],
    ['-1', '86401'],
  ],
  [
    'load_sample_interval_seconds',
    [
      ['0.01', 0.01],
      ['60', 60],
    ],
    ['0', '61'],
  ],
  [
    'load_event_loop_delay_max_ms',
    [
      ['0', 0],
      ['250', 250],
    ],
    ['-1', '600001'],
  ],
  [
    'load_heap_used_max_pct',
    [
      ['0', 0],
      ['100', 100],
    ],
    ['-1', '100.5'],
  ],
  [
    'load_recover_pct',
    [
      ['1', 1],
      ['70', 70],
    ],
    ['0', '101'],
  ],
  [
    'concurrency_max_parallel',
    [
      ['1', 1],
      ['16', 16],
    ],
    ['0', '1.5'],
  ],
  [
    'max_frame_bytes',
    [
      ['1024', 1024],
      ['1e6', 1_000_000],
    ],
    ['1023', '0'],
  ],
  [
    'max_outbound_frame_bytes',
    [
      ['65536', 65_536],
      ['33554432', 33_554_432],
    ],
    ['65535', '33554433'],
  ],
  [
    'task_data_retention_seconds',
    [
      ['0', 0],
      ['86400', 86_400],
    ],
    ['-1', '2147484'],
  ],
  [
    'ws_ping_interval_seconds',
    [
      ['0', 0],
      ['5', 5],
    ],
    ['-1'],
  ],
  ['package_download_timeout_seconds', [['0.5', 0.5]], ['0']],
  ['package_max_download_bytes', [['1', 1]], ['0', '1.5']],
  ['package_max_extracted_bytes', [['1', 1]], ['0']],
  ['package_max_entries', [['1', 1]], ['0', '-3']],
  [
    'package_import_timeout_seconds',
    [
      ['0.1', 0.1],
      ['600', 600],
    ],
    ['0', '601'],
  ],
  [
    'package_extract_timeout_seconds',
    [
      ['0.1', 0.1],
      ['3600', 3600],
    ],
    ['0.05', '3601'],
  ],
  [
    'watchdog_timeout_seconds',
    [
      ['0', 0],
      ['3600', 3600],
    ],
    ['-1', '3601'],
  ],
  [
    'shutdown_grace_seconds',
    [
      ['0', 0],
      ['90', 90],
    ],
    ['-1'],
  ],
  [
    'outbox_max_bytes',
    [
      ['65536', 65_536],
      ['1e9', 1_000_000_000],
    ],
    ['65535', '0', '1.5', '1e12'],
  ],
  [
    'http_port',
    [
      ['0', 0],
      ['65535', 65535],
      ['8080', 8080],
    ],
    ['65536', '-1', '80.5'],
  ],
];

describe('numeric bounds', () => {
  it('covers every numeric setting', () => {
    const numeric = settingFields.filter((f) => /^(integer|number)\b/.test(f.type)).map((f) => f.name);
    expect(new Set(bounds.map(([field]) => field))).toEqual(new Set(numeric));
  });

  for (const [field, good, bad] of bounds) {
    const type = settingFields.find((f) => f.name === field)?.type ?? '';
    it(`${field} (${type})`, () => {
      for (const [raw, value] of good) expect(fromEnv(field, raw), raw).toBe(value);
      for (const raw of bad) {
        expect(envError(field, raw)).toBe(
          `invalid ${field} from ${envName(field)}: expected a${type.startsWith('integer') ? 'n' : ''} ${type}, got "${raw}"`,
        );
      }
    });
  }

  it('parses numbers strictly', () => {
    expect(fromEnv('session_window_size', ' 12 ')).toBe(12);
    expect(fromEnv('heartbeat_interval_seconds', '.5')).toBe(0.5);
    expect(fromEnv('heartbeat_interval_seconds', '+2')).toBe(2);
    for (const raw of ['30s', '0x10', '1_000', 'Infinity', 'NaN', 'abc', '1,5', '--1', ' ']) {
      expect(() => fromEnv('heartbeat_interval_seconds', raw), raw).toThrow(/expected a number > 0/);
    }
  });

  it('matches the message format of the brief', () => {
    expect(envError('heartbeat_interval_seconds', 'abc')).toBe(
      'invalid heartbeat_interval_seconds from ASTRA_WORKER_HEARTBEAT_INTERVAL_SECONDS: expected a number > 0, ≤ 2147483, got "abc"',
    );
  });

  it('accepts file numbers and exactly-parsing quoted numbers, rejects other types', () => {
    const path = box.write('n.yaml', 'session_window_size: "16"\nmax_frame_bytes: 2048\n');
    expect(box.load({}, { defaultPaths: [path] })).toMatchObject({ session_window_size: 16, max_frame_bytes: 2048 });
    const bad = box.write('b.yaml', 'max_frame_bytes: 1023\n');
    expect(box.loadError({}, { defaultPaths: [bad] }).message).toBe(
      `invalid max_frame_bytes from ${bad}: expected an integer ≥ 1024, got 1023`,
    );
    const boolForNumber = box.write('c.yaml', 'http_port: true\n');
    expect(box.loadError({}, { defaultPaths: [boolForNumber] }).message).toContain('expected an integer 0..65535, got true');
    expect(box.loadError({ session_window_size: '16 frames' }).details).toEqual({
      field: 'session_window_size',
      source: 'explicit',
    });
  });
});

// [field, accepted values, rejected values]
const enums: readonly [keyof Settings, readonly string[], readonly string[]][] = [
  ['transport', ['websocket', 'dummy'], ['WebSocket', 'ws', 'grpc']],
  ['auth_mode', ['token', 'mtls'], ['TOKEN', 'tls', 'none']],
  ['session_app_queue_overflow', ['block', 'drop_new', 'drop_oldest'], ['drop', 'DROP_NEW', 'drop-new']],
  ['outbox_fsync', ['always', 'batch', 'off'], ['sync', 'BATCH', 'never']],
  ['handler_dispatch_queue_overflow', ['block', 'drop_new', 'drop_oldest'], ['reject', 'Block']],
  ['handler_exec_mode_default', ['auto', 'inline', 'thread'], ['process', 'AUTO']],
];

describe('enums', () => {
  it('covers every enumerated setting', () => {
    const enumerated = settingFields.filter((f) => f.type.includes(' | ')).map((f) => f.name);
    expect(new Set([...enums.map(([field]) => field), 'log_level'])).toEqual(new Set(enumerated));
  });

  for (const [field, good, bad] of enums) {
    it(field, () => {
      for (const value of good) expect(fromEnv(field, value)).toBe(value);
      for (const value of bad) {
        expect(envError(field, value)).toBe(
          `invalid ${field} from ${envName(field)}: expected one of ${good.join(', ')}, got "${value}"`,
        );
      }
    });
  }

  it('log_level accepts the level names in any case and normalises them to pino names', () => {
    const cases = [
      ['TRACE', 'trace'],
      ['debug', 'debug'],
      ['Info', 'info'],
      ['WARN', 'warn'],
      ['WARNING', 'warn'],
      ['warning', 'warn'],
      ['ERROR', 'error'],
      ['fatal', 'fatal'],
      ['CRITICAL', 'fatal'],
      ['critical', 'fatal'],
    ] as const;
    for (const [raw, level] of cases) expect(fromEnv('log_level', raw), raw).toBe(level);
    expect(box.load({ log_level: 'Warning' }).log_level).toBe('warn');
    for (const raw of ['verbose', 'notice', '10']) {
      expect(envError('log_level', raw)).toBe(
        `invalid log_level from ASTRA_WORKER_LOG_LEVEL: expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, FATAL, CRITICAL (any case), got "${raw}"`,
      );
    }
  });
});

describe('URLs', () => {
  it('scheduler_ws_url must be ws:// or wss://', () => {
    for (const url of ['ws://sched:8080/ws/worker', 'wss://sched.example.com/ws', 'WSS://Host/x'])
      expect(fromEnv('scheduler_ws_url', url)).toBe(url);
    for (const url of ['http://sched/ws', 'sched:8080', 'ws://', 'ws:/x', '//host']) {
      expect(envError('scheduler_ws_url', url), url).toContain('expected a ws:// or wss:// URL');
    }
  });

  it('scheduler_rest_base_url must be http:// or https://', () => {
    for (const url of ['http://localhost:8080/api/v1', 'https://sched.example.com/api'])
      expect(fromEnv('scheduler_rest_base_url', url)).toBe(url);
    for (const url of ['ws://x/api', 'ftp://x', 'localhost/api', 'https://']) {
      expect(envError('scheduler_rest_base_url', url), url).toContain('expected a http:// or https:// URL');
    }
  });
});

const BOOLEAN_FIELDS = [
  'outbox_enabled',
  'reconnect_abort_on_auth_error',
  'reconnect_abort_on_protocol_error',
  'tls_reject_unauthorized',
  'package_require_sha256',
  'package_uninstall_event',
  'watchdog_enabled',
  'http_enabled',
] as const;

describe('booleans', () => {
  it('covers every boolean setting', () => {
    expect(new Set(BOOLEAN_FIELDS)).toEqual(new Set(settingFields.filter((f) => f.type === 'boolean').map((f) => f.name)));
  });

  for (const field of BOOLEAN_FIELDS) {
    it(`${field} accepts true/false/1/0/yes/no in any case`, () => {
      for (const raw of ['true', 'TRUE', 'True', '1', 'yes', 'YES', ' yes ']) expect(fromEnv(field, raw), raw).toBe(true);
      for (const raw of ['false', 'False', '0', 'no', 'No']) expect(fromEnv(field, raw), raw).toBe(false);
      for (const raw of ['on', 'off', 'y', 'n', '2', 'enabled']) {
        expect(envError(field, raw)).toBe(
          `invalid ${field} from ${envName(field)}: expected a boolean (true/false/1/0/yes/no), got "${raw}"`,
        );
      }
    });
  }

  it('takes file booleans, 0/1 numbers and the string forms, but not other numbers', () => {
    const path = box.write('b.yaml', 'http_enabled: 1\ntls_reject_unauthorized: "no"\npackage_require_sha256: false\n');
    expect(box.load({}, { defaultPaths: [path] })).toMatchObject({
      http_enabled: true,
      tls_reject_unauthorized: false,
      package_require_sha256: false,
    });
    const bad = box.write('c.yaml', 'http_enabled: 2\n');
    expect(box.loadError({}, { defaultPaths: [bad] }).message).toBe(
      `invalid http_enabled from ${bad}: expected a boolean (true/false/1/0/yes/no), got 2`,
    );
  });
});

describe('lists and maps (JSON in env)', () => {
  it('parses JSON lists', () => {
    expect(fromEnv('runtime_names', '["node","deno"]')).toEqual(['node', 'deno']);
    expect(fromEnv('feature_flags', '[]')).toEqual([]);
    expect(fromEnv('feature_flags', '["streaming"]')).toEqual(['streaming']);
    expect(fromEnv('payload_types', '["biz.exec.dispatch"]')).toEqual(['biz.exec.dispatch']);
  });

  it('rejects malformed or mistyped JSON lists', () => {
    expect(envError('runtime_names', '["node"')).toBe(
      'invalid runtime_names from ASTRA_WORKER_RUNTIME_NAMES: expected a non-empty JSON array of non-empty strings, got "[\\"node\\""',
    );
    expect(envError('runtime_names', '[]')).toContain('expected a non-empty JSON array of non-empty strings');
    expect(envError('runtime_names', 'node')).toContain('got "node"');
    expect(envError('feature_flags', '"a"')).toContain('expected a JSON array of non-empty strings');
    expect(envError('feature_flags', '[1]')).toContain('expected a JSON array of non-empty strings');
    expect(envError('payload_types', '[""]')).toContain('expected a JSON array of non-empty strings');
    expect(envError('payload_types', '{"a":1}')).toContain('expected a JSON array of non-empty strings');
  });

  it('parses JSON maps of per-node limits', () => {
    expect(fromEnv('concurrency_per_node_limits', '{"gpu.infer": 2, "cpu": 8}')).toEqual({ 'gpu.infer': 2, cpu: 8 });
    expect(fromEnv('concurrency_per_node_limits', '{}')).toEqual({});
  });

  it('rejects malformed maps and limits below 1 or fractional', () => {
    for (const raw of ['{"gpu": 0}', '{"gpu": 1.5}', '{"gpu": "2"}', '[1]', '{', '{"": 1}', '3']) {
      expect(envError('concurrency_per_node_limits', raw), raw).toBe(
        `invalid concurrency_per_node_limits from ASTRA_WORKER_CONCURRENCY_PER_NODE_LIMITS: expected a JSON object mapping names to integers ≥ 1, got ${JSON.stringify(raw)}`,
      );
    }
  });

  it('accepts YAML lists/maps in files and JSON strings there too', () => {
    const path = box.write('l.yaml', 'feature_flags: \'["a","b"]\'\nconcurrency_per_node_limits: {x: 3}\n');
    expect(box.load({}, { defaultPaths: [path] })).toMatchObject({
      feature_flags: ['a', 'b'],
      concurrency_per_node_limits: { x: 3 },
    });
  });
});

describe('strings', () => {
  it('rejects empty strings and non-strings for text settings', () => {
    const path = box.write('s.yaml', 'tenant: ""\n');
    expect(box.loadError({}, { defaultPaths: [path] }).message).toBe(
      `invalid tenant from ${path}: expected a non-empty string, got ""`,
    );
    expect(box.loadError({ worker_name: 42 }).message).toBe(
      'invalid worker_name from explicit: expected a non-empty string, got 42',
    );
    expect(box.loadError({ http_host: ['a'] }).message).toBe(
      'invalid http_host from explicit: expected a non-empty string, got ["a"]',
    );
    expect(box.loadError({ data_dir: '' }).message).toBe('invalid data_dir from explicit: expected a non-empty path, got ""');
  });

  it('names the .env file as the source of a bad .env value', () => {
    const dotenvBox = createSandbox();
    const path = dotenvBox.write('.env', 'ASTRA_WORKER_TRANSPORT=grpc\n');
    const error = dotenvBox.loadError();
    expect(error.message).toBe(`invalid transport from .env (${path}): expected one of websocket, dummy, got "grpc"`);
    expect(error.details).toEqual({ field: 'transport', source: `.env (${path})` });
  });
});
