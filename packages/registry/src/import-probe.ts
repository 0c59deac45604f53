import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { AstraError, ErrorCode, type Manifest } from '@astraflow/protocol';
import type { EntrypointLocation } from './entrypoint.js';
import type { ProbeAnswer, ProbeRequest } from './import-probe-messages.js';

/** Options of {@link probeImports}. */
export interface ImportProbeOptions {
  /** Package folder (the child's working directory). */
  root: string;
  manifest: Manifest;
  /** Adapter locations, from `locateAdapters`. */
  locations: ReadonlyMap<string, EntrypointLocation>;
  /** Wall-time limit of the whole probe, child start-up included. */
  timeoutMs: number;
  /** Environment of the child; secrets must already be removed (see {@link probeEnvironment}). */
  env?: NodeJS.ProcessEnv;
}

/** Node's exit code for a top-level await that never settled once nothing else kept the process alive. */
const UNSETTLED_TLA_EXIT = 13;
const STDERR_TAIL_BYTES = 2048;
/** Lower scheduling priority (Unix nice value) of the probe process: it yields to the worker, but is not starved under load. */
const PROBE_NICENESS = 10;

/**
 * Where the compiled probe child lives. Under vitest this module runs from
 * `src/*.ts`, which a plain `node` child cannot load, so the built copy in
 * `dist/` is used (tests run after `tsc -b`).
 */
export function probeChildPath(moduleUrl: string = import.meta.url): string {
  const relative = moduleUrl.endsWith('.ts') ? '../dist/import-probe-child.js' : './import-probe-child.js';
  return fileURLToPath(new URL(relative, moduleUrl));
}

/**
 * The environment package code may see: this process's, without any
 * `ASTRA_WORKER_*` variable (settings, the auth token among them) and
 * without Node options that would load extra code into the child.
 */
export function probeEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith('ASTRA_WORKER_') || key === 'NODE_OPTIONS') continue;
    clean[key] = value;
  }
  return clean;
}

function failure(message: string, reason: string, extra: Record<string, unknown> = {}): AstraError {
  return new AstraError(ErrorCode.PKG_INVALID, message, { details: { reason, ...extra } });
}

/**
 * Imports every adapter module of a package and resolves every node handler
 * in a separate Node.js process, before the package is activated in this
 * one. A child process, not a worker thread: package code that calls
 * `process.exit`/`process.abort`, crashes, spins in a busy loop or awaits
 * forever at top level can only end or wedge the child, which is killed at
 * the time limit; a worker thread shares the process (`process.abort`, native
 * crashes and memory exhaustion would still take the worker down).
 *
 * Rejects with `E.PKG.INVALID` whose `details.reason` is `exit`, `timeout`,
 * `unsettled` or `load` and whose message says what happened.
 */
export function probeImports(options: ImportProbeOptions): Promise<void> {
  const { root, manifest, locations, timeoutMs } = options;
  const request: ProbeRequest = { nonce: randomUUID(), modules: [], handlers: [] };
  for (const adapter of manifest.adapters) {
    const location = locations.get(adapter.name);
    if (location === undefined) continue;
    // Labels as buildHandlers words them, so a failure reads the same from the probe as from an in-process import.
    request.modules.push({
      label: `adapter "${adapter.name}" entrypoint "${adapter.entrypoint}"`,
      modulePath: location.modulePath,
    });
  }
  const entrypoints = new Map(manifest.adapters.map((a) => [a.name, a.entrypoint]));
  for (const node of manifest.nodes) {
    const location = locations.get(node.adapter);
    if (location === undefined) continue;
    request.handlers.push({
      label: `node "${node.type}" handler "${node.handler}" (adapter "${node.adapter}", entrypoint "${entrypoints.get(node.adapter) ?? ''}")`,
      modulePath: location.modulePath,
      exportName: location.exportName,
      handlerName: node.handler,
    });
  }
  if (request.modules.length === 0) return Promise.resolve();
  const what = `${manifest.name}@${manifest.version}`;
  return new Promise<void>((resolve, reject) => {
    const child = fork(probeChildPath(), [], {
      cwd: root,
      env: options.env ?? probeEnvironment(),
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    try {
      // A busy loop in the probe must not take CPU from the worker's heartbeats.
      if (child.pid !== undefined) setPriority(child.pid, PROBE_NICENESS);
    } catch {
      // Not permitted here: the probe runs at normal priority.
    }
    let stderr = '';
    let settled = false;
    const finish = (err?: AstraError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The verdict is in: whatever the package left running (timers, servers) goes with the child.
      child.kill('SIGKILL');
      if (err === undefined) resolve();
      else reject(err);
    };
    const timer = setTimeout(() => {
      finish(
        failure(
          `importing ${what} did not finish within ${timeoutMs} ms (a busy loop, or a top-level await that never settles?)`,
          'timeout',
          { timeout_ms: timeoutMs },
        ),
      );
    }, timeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.on('message', (message: ProbeAnswer) => {
      if (message?.nonce !== request.nonce) return;
      if (message.ok) finish();
      else finish(failure(message.message, 'load'));
    });
    child.on('error', (err) => finish(failure(`could not start the import probe of ${what}: ${err.message}`, 'probe')));
    child.on('exit', (code, signal) => {
      if (settled) return;
      // A dynamic import whose top-level await never settles leaves nothing to run: the child just ends, code 0.
      if (code === 0 || (code === UNSETTLED_TLA_EXIT && /unsettled top-level await/i.test(stderr))) {
        finish(
          failure(
            `importing ${what} never finished: a top-level await never settles (or the module called process.exit(0))`,
            'unsettled',
          ),
        );
        return;
      }
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${String(code)}`;
      const lastLine = stderr.trim().split('\n').at(-1)?.slice(0, 300);
      finish(
        failure(
          `importing ${what} ended the process: it ${how}${lastLine ? ` (${lastLine})` : ''}; package code must not exit at import`,
          'exit',
          { exit_code: code, signal },
        ),
      );
    });
    // A child that died before reading the request is reported by its 'exit'.
    child.send(request, (err) => void err);
  });
}
