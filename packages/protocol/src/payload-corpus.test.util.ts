/**
 * Test support: the shared corpus of payloads, by frame type: valid cases
 * (minimal, full, nulls where allowed, edge values) and hand-written invalid
 * ones. Used by the zod/ajv cross-check and by the buildFrame tests.
 */
import { FrameType, type KnownFrameType } from './frame-types.js';

/** Drafts are free-form JSON edited by path in the cases, hence `any`. */
// biome-ignore lint/suspicious/noExplicitAny: drafts are edited by path, any shape goes
export type Draft = any;
/** A JSON object. */
export type Json = Record<string, unknown>;

/** A deep copy of `base` changed by `edit`. */
export function variant(base: unknown, edit: (draft: Draft) => void): Draft {
  const draft: Draft = structuredClone(base);
  edit(draft);
  return draft;
}

/** A valid `ts`. */
export const TS = '2024-05-01T12:00:00Z';
/** A valid date-time with fraction and offset. */
export const ISO = '2024-05-01T12:00:00.250+02:00';

/** The smallest manifest the upstream schema accepts. */
export const minimalManifest: Json = {
  schemaVersion: '1.0.0',
  name: 'example.pkg',
  version: '1.0.0',
  description: 'Example package',
  adapters: [{ name: 'echo', entrypoint: 'adapters.echo', capabilities: ['example.pkg.echo'] }],
  python: { requires: '>=3.10' },
  nodes: [
    {
      type: 'example.pkg.echo',
      status: 'published',
      category: 'Examples',
      label: 'Echo',
      adapter: 'echo',
      handler: 'echo',
      schema: {},
    },
  ],
};

/** A manifest using every optional member of the upstream schema. */
export const fullManifest: Json = {
  ...minimalManifest,
  version: '1.2.3-rc.1',
  adapters: [
    {
      name: 'echo',
      entrypoint: 'adapters.echo:EchoAdapter',
      capabilities: ['example.pkg.echo', 'example.pkg.shout'],
      description: 'Echoes',
      idempotency: 'per_request',
      metadata: { owner: 'team-a' },
    },
  ],
  python: { requires: '>=3.10,<3.12', dependencies: ['requests>=2'] },
  nodes: [
    {
      type: 'example.pkg.echo',
      status: 'deprecated',
      category: 'Examples',
      label: 'Echo',
      description: 'Returns its input',
      tags: ['example'],
      adapter: 'echo',
      handler: 'echo',
      config: { loud: false },
      schema: true,
      ui: {
        inputPorts: [{ key: 'in', label: 'In', binding: { path: '/inputs/in' } }],
        widgets: [
          {
            key: 'message',
            label: 'Message',
            component: 'text',
            binding: {
              path: '/parameters/message',
              mode: 'two_way',
              prefix: '@sub.#node',
              scope: { kind: 'subgraph', subgraphAliases: ['sub'], nodeId: 'node', prefix: '@sub' },
            },
            options: { multiline: true },
          },
        ],
        outputPorts: [],
      },
    },
  ],
  resources: [{ path: 'data/a.bin', type: 'download', sha256: 'a'.repeat(64) }],
  hooks: { install: ['setup.sh'], uninstall: [] },
  signature: { sha256: 'ABCDEF0123456789'.repeat(4), signedAt: TS, signedBy: 'ci' },
};

/** The cases of one frame type. */
export interface Suite {
  /** Valid cases; `full` must use every top-level member (invalid variants are derived from it). */
  valid: { minimal: Json; full: Json } & Record<string, Json>;
  invalid: Record<string, unknown>;
}

/** Payload cases of every frame type. */
export const suites: Record<KnownFrameType, Suite> = {
  [FrameType.HANDSHAKE]: {
    valid: {
      minimal: { protocol: 1, auth: { mode: 'token' }, worker: { worker_name: 'w', version: '0.1.0', hostname: 'h' } },
      full: {
        protocol: 2,
        auth: { mode: 'token', token: 'secret', fingerprint: 'ab:cd' },
        worker: { worker_name: 'w', worker_instance_id: 'wi-1', version: '0.1.0', hostname: 'h' },
      },
      nulls: {
        protocol: 1,
        auth: { mode: 'mtls', token: null, fingerprint: null },
        worker: { worker_name: 'w', worker_instance_id: null, version: '0.1.0', hostname: 'h' },
      },
    },
    invalid: {
      'protocol below minimum': {
        protocol: 0,
        auth: { mode: 'token' },
        worker: { worker_name: 'w', version: '1', hostname: 'h' },
      },
      'protocol not an integer': {
        protocol: 1.5,
        auth: { mode: 'token' },
        worker: { worker_name: 'w', version: '1', hostname: 'h' },
      },
      'auth.mode outside the enum': {
        protocol: 1,
        auth: { mode: 'basic' },
        worker: { worker_name: 'w', version: '1', hostname: 'h' },
      },
      'auth.mode missing': { protocol: 1, auth: { token: 't' }, worker: { worker_name: 'w', version: '1', hostname: 'h' } },
      'auth extra property': {
        protocol: 1,
        auth: { mode: 'token', user: 'u' },
        worker: { worker_name: 'w', version: '1', hostname: 'h' },
      },
      'worker_name empty': { protocol: 1, auth: { mode: 'token' }, worker: { worker_name: '', version: '1', hostname: 'h' } },
      'worker_instance_id empty (nullable but minLength 1)': {
        protocol: 1,
        auth: { mode: 'token' },
        worker: { worker_name: 'w', worker_instance_id: '', version: '1', hostname: 'h' },
      },
      'worker.hostname missing': { protocol: 1, auth: { mode: 'token' }, worker: { worker_name: 'w', version: '1' } },
      'auth.token a number': {
        protocol: 1,
        auth: { mode: 'token', token: 5 },
        worker: { worker_name: 'w', version: '1', hostname: 'h' },
      },
    },
  },
  [FrameType.ACK]: {
    valid: {
      minimal: {},
      full: { ok: true, for: 'frame-1', info: 'fine', ack_seq: 5, ack_bitmap: 3, recv_window: 64 },
      nulls: { ok: null, for: null, info: null, ack_seq: null, ack_bitmap: null, recv_window: null },
      'zero ack_seq and bitmap': { ok: false, ack_seq: 0, ack_bitmap: 0, recv_window: 1 },
      // JSON Schema integers have no upper bound; a wide bitmap must not get the ack dropped.
      'bitmap past 2^53': { ok: true, ack_seq: 7, ack_bitmap: 2 ** 60, recv_window: 128 },
    },
    invalid: {
      'ack_seq below minimum': { ack_seq: -1 },
      'recv_window below minimum': { recv_window: 0 },
      'ack_bitmap not an integer': { ack_bitmap: 1.5 },
      'ok as a string': { ok: 'true' },
      'for as a number': { for: 12 },
    },
  },
  [FrameType.REGISTER]: {
    valid: {
      minimal: { capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] } },
      full: {
        capabilities: {
          concurrency: { max_parallel: 4, per_node_limits: { 'example.pkg.echo': 2 } },
          runtimes: ['node', 'python'],
          features: ['resume', 'feedback'],
        },
        payload_types: ['biz.exec.dispatch', 'biz.pkg.install'],
        packages: [
          { name: 'example.pkg', version: '1.0.0', status: 'installed' },
          { name: 'broken.pkg', version: '0.1.0', status: 'failed' },
          { name: 'gone.pkg', version: '0.0.1', status: 'missing' },
        ],
        channels: ['stdout'],
        manifests: [{ name: 'example.pkg', version: '1.0.0', manifest: minimalManifest }],
      },
      'empty lists': {
        capabilities: { concurrency: { max_parallel: 1, per_node_limits: {} }, runtimes: ['node'], features: [] },
        payload_types: [],
        packages: [],
        channels: [],
        manifests: [],
      },
    },
    invalid: {
      'runtimes empty (minItems 1)': { capabilities: { concurrency: { max_parallel: 1 }, runtimes: [], features: [] } },
      'max_parallel below minimum': { capabilities: { concurrency: { max_parallel: 0 }, runtimes: ['node'], features: [] } },
      'per_node_limits value below minimum': {
        capabilities: { concurrency: { max_parallel: 1, per_node_limits: { a: 0 } }, runtimes: ['node'], features: [] },
      },
      'per_node_limits value not an integer': {
        capabilities: { concurrency: { max_parallel: 1, per_node_limits: { a: 1.5 } }, runtimes: ['node'], features: [] },
      },
      'features item empty': { capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [''] } },
      'features missing': { capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'] } },
      'concurrency extra property': {
        capabilities: { concurrency: { max_parallel: 1, burst: 2 }, runtimes: ['node'], features: [] },
      },
      'capabilities extra property': {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [], gpu: true },
      },
      'package status outside the enum': {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
        packages: [{ name: 'p', version: '1', status: 'gone' }],
      },
      'package without version': {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
        packages: [{ name: 'p', status: 'installed' }],
      },
      'manifest entry manifest as an array': {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
        manifests: [{ name: 'p', version: '1', manifest: [] }],
      },
      'payload_types item empty': {
        capabilities: { concurrency: { max_parallel: 1 }, runtimes: ['node'], features: [] },
        payload_types: [''],
      },
    },
  },
  [FrameType.SESSION_ACCEPT]: {
    valid: {
      minimal: { session_id: 's-1', session_token: 'tok', worker_instance_id: 'wi-1' },
      full: { session_id: 's-1', session_token: 'tok', expires_at: ISO, resumed: true, worker_instance_id: 'wi-1' },
      nulls: { session_id: 's-1', session_token: 'tok', expires_at: null, resumed: null, worker_instance_id: 'wi-1' },
      'expires_at lower-case t and z': {
        session_id: 's',
        session_token: 't',
        expires_at: '2024-05-01t12:00:00z',
        worker_instance_id: 'w',
      },
    },
    invalid: {
      'expires_at not a date-time': { session_id: 's', session_token: 't', expires_at: 'tomorrow', worker_instance_id: 'w' },
      'expires_at without a zone': {
        session_id: 's',
        session_token: 't',
        expires_at: '2024-05-01T12:00:00',
        worker_instance_id: 'w',
      },
      'expires_at on 30 February': {
        session_id: 's',
        session_token: 't',
        expires_at: '2024-02-30T12:00:00Z',
        worker_instance_id: 'w',
      },
      'session_token empty': { session_id: 's', session_token: '', worker_instance_id: 'w' },
      'resumed as a string': { session_id: 's', session_token: 't', resumed: 'yes', worker_instance_id: 'w' },
      'worker_instance_id null': { session_id: 's', session_token: 't', worker_instance_id: null },
    },
  },
  [FrameType.RESUME]: {
    valid: {
      minimal: { session_id: 's-1', session_token: 'tok' },
      full: { session_id: 's-1', session_token: 'tok', last_seen_seq: 10 },
      nulls: { session_id: 's-1', session_token: 'tok', last_seen_seq: null },
      'last_seen_seq zero': { session_id: 's-1', session_token: 'tok', last_seen_seq: 0 },
    },
    invalid: {
      'last_seen_seq below minimum': { session_id: 's', session_token: 't', last_seen_seq: -1 },
      'last_seen_seq not an integer': { session_id: 's', session_token: 't', last_seen_seq: 2.5 },
      'session_id empty': { session_id: '', session_token: 't' },
      'session_token null': { session_id: 's', session_token: null },
    },
  },
  [FrameType.HEARTBEAT]: {
    valid: {
      minimal: { healthy: true, metrics: { inflight: 0 } },
      full: {
        healthy: false,
        metrics: { cpu_pct: 12.5, mem_pct: 40, disk_pct: 0, inflight: 3, latency_ms: 120, queue_depth: 7, note: 'any extra' },
        packages: { drift: true },
      },
      'empty packages block': { healthy: true, metrics: { inflight: 0 }, packages: {} },
      'cpu above 100 (no maximum)': { healthy: true, metrics: { inflight: 0, cpu_pct: 250 } },
    },
    invalid: {
      'inflight below minimum': { healthy: true, metrics: { inflight: -1 } },
      'inflight not an integer': { healthy: true, metrics: { inflight: 1.5 } },
      'inflight missing': { healthy: true, metrics: { cpu_pct: 1 } },
      'cpu_pct below minimum': { healthy: true, metrics: { inflight: 0, cpu_pct: -0.1 } },
      'latency_ms not an integer': { healthy: true, metrics: { inflight: 0, latency_ms: 2.5 } },
      'packages extra property': { healthy: true, metrics: { inflight: 0 }, packages: { drift: false, count: 2 } },
      'packages.drift as a string': { healthy: true, metrics: { inflight: 0 }, packages: { drift: 'no' } },
      'healthy null': { healthy: null, metrics: { inflight: 0 } },
    },
  },
  [FrameType.RESET]: {
    valid: {
      minimal: { code: 'E.SESSION.UNKNOWN', reason: 'no such session' },
      full: { code: 'E.AUTH.INVALID_TOKEN', reason: 'token expired', retry_after_ms: 500 },
      nulls: { code: 'E.SESSION.UNKNOWN', reason: 'gone', retry_after_ms: null },
    },
    invalid: {
      'code empty': { code: '', reason: 'r' },
      'reason empty': { code: 'E.X', reason: '' },
      'retry_after_ms below minimum': { code: 'E.X', reason: 'r', retry_after_ms: -1 },
      'retry_after_ms not an integer': { code: 'E.X', reason: 'r', retry_after_ms: 0.5 },
    },
  },
  [FrameType.DRAIN]: {
    valid: {
      minimal: {},
      full: { reason: 'maintenance', deadline_ms: 30000 },
      nulls: { reason: null, deadline_ms: null },
      'empty reason (no minLength)': { reason: '', deadline_ms: 0 },
    },
    invalid: {
      'deadline_ms below minimum': { deadline_ms: -5 },
      'deadline_ms not an integer': { deadline_ms: 1.5 },
      'reason a number': { reason: 5 },
      'extra property': { reason: 'x', force: true },
    },
  },
  [FrameType.EXEC_DISPATCH]: {
    valid: {
      minimal: {
        run_id: 'run-1',
        task_id: 'task-1',
        node_id: 'node-1',
        node_type: 'example.pkg.echo',
        package_name: 'example.pkg',
        package_version: '1.0.0',
        parameters: {},
        constraints: {},
      },
      full: {
        run_id: 'run-1',
        task_id: 'task-1',
        priority: 5,
        node_id: 'node-1',
        node_type: 'example.pkg.echo',
        package_name: 'example.pkg',
        package_version: '1.0.0',
        parameters: { message: 'hi', nested: { list: [1, 2, null] } },
        host_node_id: 'host-1',
        middleware_chain: ['mw-1', 'mw-2'],
        chain_index: 0,
        constraints: { timeout_ms: 1000 },
        concurrency_key: 'key-1',
        resource_refs: [
          { resource_id: 'r-1', worker_name: 'w', type: 'file', scope: 'run', expires_at: ISO, metadata: { a: 1 } },
          { resource_id: 'r-2', worker_name: 'w', type: 'model' },
        ],
        affinity: { key: 'session-9', mode: 'sticky', expires_at: TS },
      },
      nulls: {
        run_id: 'run-1',
        task_id: 'task-1',
        priority: null,
        node_id: 'node-1',
        node_type: 'example.pkg.echo',
        package_name: 'example.pkg',
        package_version: '1.0.0',
        parameters: {},
        constraints: {},
      },
      'negative priority, preferred affinity': {
        run_id: 'r',
        task_id: 't',
        priority: -3,
        node_id: 'n',
        node_type: 'x',
        package_name: 'p',
        package_version: '1',
        parameters: {},
        constraints: {},
        affinity: { key: 'k', mode: 'preferred' },
      },
    },
    invalid: {},
  },
  [FrameType.EXEC_RESULT]: {
    valid: {
      minimal: { run_id: 'run-1', task_id: 'task-1', status: 'SUCCEEDED', result: {} },
      full: {
        run_id: 'run-1',
        task_id: 'task-1',
        status: 'FAILED',
        result: { outputs: { echo: 'hi' } },
        duration_ms: 12,
        metadata: { attempts: 1 },
        artifacts: [
          { resource_id: 'a-1', worker_name: 'w', type: 'file', size_bytes: 0, inline: false, expires_at: TS, metadata: {} },
          { resource_id: 'a-2', worker_name: 'w', type: 'blob' },
        ],
        error: { code: 'E.RUNNER.FAILURE', message: 'boom', remediation: 'retry' },
      },
      skipped: { run_id: 'r', task_id: 't', status: 'SKIPPED', result: {}, duration_ms: 0 },
      cancelled: {
        run_id: 'r',
        task_id: 't',
        status: 'CANCELLED',
        result: {},
        error: { code: 'E.RUNNER.CANCELLED', message: 'shutdown' },
      },
    },
    invalid: {},
  },
  [FrameType.EXEC_ERROR]: {
    valid: {
      minimal: { code: 'E.RUNNER.FAILURE', message: 'boom' },
      full: {
        code: 'E.TIMEOUT',
        message: 'handler exceeded 1000 ms',
        remediation: 'raise constraints.timeout_ms',
        context: { where: 'runner', details: { run_id: 'r', task_id: 't', node_id: 'n' } },
      },
      'empty context': { code: 'E.INTERNAL', message: 'x', context: {} },
      'empty remediation and where': { code: 'E.INTERNAL', message: 'x', remediation: '', context: { where: '' } },
    },
    invalid: {
      'code empty': { code: '', message: 'm' },
      'message empty': { code: 'E.X', message: '' },
      'context extra property': { code: 'E.X', message: 'm', context: { where: 'w', stack: '...' } },
      'context.details as an array': { code: 'E.X', message: 'm', context: { details: [] } },
      'context.where a number': { code: 'E.X', message: 'm', context: { where: 1 } },
      'remediation null': { code: 'E.X', message: 'm', remediation: null },
    },
  },
  [FrameType.EXEC_FEEDBACK]: {
    valid: {
      minimal: { run_id: 'run-1', task_id: 'task-1' },
      full: {
        run_id: 'run-1',
        task_id: 'task-1',
        stage: 'streaming',
        progress: 0.5,
        message: 'halfway',
        chunks: [
          { channel: 'stdout', index: 0, mime_type: 'text/plain', text: 'hello', metadata: { level: 'info' } },
          { channel: 'custom', data_base64: 'AAEC' },
          { channel: 'llm', text: 'tok' },
        ],
        metrics: { loss: 0.1, steps: 3, delta: -2 },
        metadata: { any: ['thing'] },
      },
      'progress at both ends': { run_id: 'r', task_id: 't', progress: 0, chunks: [] },
      'progress one': { run_id: 'r', task_id: 't', progress: 1, message: '' },
      'every chunk channel': {
        run_id: 'r',
        task_id: 't',
        chunks: ['stdout', 'stderr', 'log', 'llm', 'metric', 'custom'].map((channel) => ({ channel })),
      },
    },
    invalid: {
      'progress above maximum': { run_id: 'r', task_id: 't', progress: 1.5 },
      'progress below minimum': { run_id: 'r', task_id: 't', progress: -0.1 },
      'chunk channel outside the enum': { run_id: 'r', task_id: 't', chunks: [{ channel: 'video' }] },
      'chunk without channel': { run_id: 'r', task_id: 't', chunks: [{ text: 'x' }] },
      'chunk extra property': { run_id: 'r', task_id: 't', chunks: [{ channel: 'log', level: 'info' }] },
      'chunk index below minimum': { run_id: 'r', task_id: 't', chunks: [{ channel: 'log', index: -1 }] },
      'metrics value a string': { run_id: 'r', task_id: 't', metrics: { loss: '0.1' } },
      'stage empty': { run_id: 'r', task_id: 't', stage: '' },
      'chunk as a string': { run_id: 'r', task_id: 't', chunks: ['hello'] },
    },
  },
  [FrameType.EXEC_NEXT_REQUEST]: {
    valid: {
      minimal: { requestId: 'req-1', runId: 'run-1', nodeId: 'node-1', middlewareId: 'mw-1' },
      full: {
        requestId: 'req-1',
        runId: 'run-1',
        nodeId: 'node-1',
        middlewareId: 'mw-1',
        chainIndex: 2,
        hostCtx: { a: 1 },
        middlewareCtx: { b: [2] },
        payload: { c: { d: null } },
        timeoutMs: 5000,
      },
    },
    invalid: {
      'timeoutMs below minimum': { requestId: 'q', runId: 'r', nodeId: 'n', middlewareId: 'm', timeoutMs: 0 },
      'chainIndex below minimum': { requestId: 'q', runId: 'r', nodeId: 'n', middlewareId: 'm', chainIndex: -1 },
      'requestId empty': { requestId: '', runId: 'r', nodeId: 'n', middlewareId: 'm' },
      'snake_case run_id instead of runId': { requestId: 'q', run_id: 'r', nodeId: 'n', middlewareId: 'm' },
    },
  },
  [FrameType.EXEC_NEXT_RESPONSE]: {
    valid: {
      minimal: { requestId: 'req-1', runId: 'run-1', nodeId: 'node-1', middlewareId: 'mw-1' },
      full: {
        requestId: 'req-1',
        runId: 'run-1',
        nodeId: 'node-1',
        middlewareId: 'mw-1',
        result: { ok: true },
        error: { code: 'E.X', message: 'failed downstream' },
        trace: { hops: 2 },
      },
    },
    invalid: {
      'result as a string': { requestId: 'q', runId: 'r', nodeId: 'n', middlewareId: 'm', result: 'done' },
      'error as an array': { requestId: 'q', runId: 'r', nodeId: 'n', middlewareId: 'm', error: [] },
      'middlewareId empty': { requestId: 'q', runId: 'r', nodeId: 'n', middlewareId: '' },
    },
  },
  [FrameType.PKG_INSTALL]: {
    valid: {
      minimal: { name: 'example.pkg', version: '1.0.0' },
      full: {
        name: 'example.pkg',
        version: '1.0.0',
        url: 'https://packages.example.com/example.pkg-1.0.0.tgz?sig=a%2Fb#frag',
        sha256: 'f'.repeat(64),
      },
      'file url': { name: 'p', version: '1', url: 'file:///var/packages/p-1.tgz' },
      'ipv6 host with port': { name: 'p', version: '1', url: 'http://[::1]:8080/p.tgz' },
      'ipv4-in-ipv6 host': { name: 'p', version: '1', url: 'http://[::ffff:127.0.0.1]/p.tgz' },
      'user info and empty port': { name: 'p', version: '1', url: 'https://user:pw@host:/p.tgz' },
      'non-http scheme': { name: 'p', version: '1', url: 'urn:isbn:0451450523' },
    },
    invalid: {
      'url not a uri': { name: 'p', version: '1', url: 'not a url' },
      'url relative': { name: 'p', version: '1', url: '/packages/p.tgz' },
      'url with a raw space': { name: 'p', version: '1', url: 'https://host/p 1.tgz' },
      'url with a broken percent-escape': { name: 'p', version: '1', url: 'https://host/p%zz.tgz' },
      'url with a bad ipv6 literal': { name: 'p', version: '1', url: 'http://[1::2::3]/p.tgz' },
      'url scheme only': { name: 'p', version: '1', url: 'https:' },
      'sha256 empty': { name: 'p', version: '1', sha256: '' },
      'name empty': { name: '', version: '1' },
    },
  },
  [FrameType.PKG_UNINSTALL]: {
    valid: {
      minimal: { name: 'example.pkg' },
      full: { name: 'example.pkg', version: '1.0.0' },
      nulls: { name: 'example.pkg', version: null },
      'empty version (no minLength)': { name: 'example.pkg', version: '' },
    },
    invalid: {
      'name empty': { name: '' },
      'version a number': { name: 'p', version: 1 },
      'extra property': { name: 'p', force: true },
    },
  },
  [FrameType.PKG_EVENT]: {
    valid: {
      minimal: { name: 'example.pkg', version: '1.0.0', status: 'installed' },
      full: {
        name: 'example.pkg',
        version: '1.0.0',
        status: 'failed',
        log_url: 'file:///var/log/install.log',
        details: { code: 'E.PKG.CHECKSUM', message: 'sha256 mismatch' },
      },
    },
    invalid: {
      'status outside the enum': { name: 'p', version: '1', status: 'removed' },
      'version empty': { name: 'p', version: '', status: 'installed' },
      'details as an array': { name: 'p', version: '1', status: 'failed', details: [] },
      'log_url a number': { name: 'p', version: '1', status: 'failed', log_url: 5 },
    },
  },
  [FrameType.PKG_CATALOG]: {
    valid: {
      minimal: { packages: [] },
      full: {
        packages: [
          {
            name: 'example.pkg',
            version: '1.0.0',
            status: 'installed',
            source: 'https://packages.example.com/example.pkg-1.0.0.tgz',
            manifest: fullManifest,
            metadata: { size: 1 },
          },
          { name: 'other.pkg', version: '2.0.0', status: 'missing', manifest: minimalManifest },
        ],
      },
    },
    invalid: {
      'manifest without nodes': {
        packages: [{ name: 'p', version: '1', status: 'installed', manifest: variant(minimalManifest, (d) => delete d.nodes) }],
      },
      'manifest with an upper-case name': {
        packages: [{ name: 'p', version: '1', status: 'installed', manifest: { ...minimalManifest, name: 'Example' } }],
      },
      'status outside the enum': { packages: [{ name: 'p', version: '1', status: 'gone', manifest: minimalManifest }] },
      'package extra property': { packages: [{ name: 'p', version: '1', status: 'failed', manifest: minimalManifest, x: 1 }] },
      'package without manifest': { packages: [{ name: 'p', version: '1', status: 'failed' }] },
      'package name empty': { packages: [{ name: '', version: '1', status: 'failed', manifest: minimalManifest }] },
    },
  },
};

// Larger payloads: invalid variants written as edits of the minimal case.
const dispatch = suites[FrameType.EXEC_DISPATCH].valid.minimal;
Object.assign(suites[FrameType.EXEC_DISPATCH].invalid, {
  'constraints.timeout_ms below minimum': variant(dispatch, (d) => (d.constraints = { timeout_ms: 0 })),
  'constraints extra property': variant(dispatch, (d) => (d.constraints = { retries: 2 })),
  'affinity.mode outside the enum': variant(dispatch, (d) => (d.affinity = { key: 'k', mode: 'random' })),
  'affinity without key': variant(dispatch, (d) => (d.affinity = { mode: 'sticky' })),
  'affinity.expires_at not a date-time': variant(
    dispatch,
    (d) => (d.affinity = { key: 'k', expires_at: '2024-13-01T00:00:00Z' }),
  ),
  'resource ref without type': variant(dispatch, (d) => (d.resource_refs = [{ resource_id: 'r', worker_name: 'w' }])),
  'resource ref extra property': variant(
    dispatch,
    (d) => (d.resource_refs = [{ resource_id: 'r', worker_name: 'w', type: 't', size: 1 }]),
  ),
  'resource ref scope empty': variant(
    dispatch,
    (d) => (d.resource_refs = [{ resource_id: 'r', worker_name: 'w', type: 't', scope: '' }]),
  ),
  'middleware_chain item empty': variant(dispatch, (d) => (d.middleware_chain = [''])),
  'chain_index below minimum': variant(dispatch, (d) => (d.chain_index = -1)),
  'priority not an integer': variant(dispatch, (d) => (d.priority = 1.5)),
  'run_id empty': variant(dispatch, (d) => (d.run_id = '')),
  'parameters as an array': variant(dispatch, (d) => (d.parameters = [])),
});
const result = suites[FrameType.EXEC_RESULT].valid.minimal;
Object.assign(suites[FrameType.EXEC_RESULT].invalid, {
  'status in lower case': variant(result, (d) => (d.status = 'succeeded')),
  'duration_ms below minimum': variant(result, (d) => (d.duration_ms = -1)),
  'artifact size_bytes below minimum': variant(
    result,
    (d) => (d.artifacts = [{ resource_id: 'a', worker_name: 'w', type: 't', size_bytes: -1 }]),
  ),
  'artifact inline as a string': variant(
    result,
    (d) => (d.artifacts = [{ resource_id: 'a', worker_name: 'w', type: 't', inline: 'yes' }]),
  ),
  'artifact without worker_name': variant(result, (d) => (d.artifacts = [{ resource_id: 'a', type: 't' }])),
  'error without message': variant(result, (d) => (d.error = { code: 'E.X' })),
  'error code empty': variant(result, (d) => (d.error = { code: '', message: 'm' })),
  'error extra property': variant(result, (d) => (d.error = { code: 'E.X', message: 'm', where: 'w' })),
  'result null': variant(result, (d) => (d.result = null)),
});
