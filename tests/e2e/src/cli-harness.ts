import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { scratch } from './harness.js';

/** The built `astraflow-worker` entry point. */
export const BIN = join(
  dirname(createRequire(import.meta.url).resolve('@astraflow/worker-cli/package.json')),
  'bin',
  'astraflow-worker.js',
);

/** Teardown steps of the running test, run in reverse by each CLI test file's `afterEach`. */
export const cleanups: Array<() => Promise<unknown>> = [];

/** The built `astraflow-worker` binary running as a child process. */
export interface Cli {
  child: ChildProcess;
  dir: string;
  /** stdout lines so far. */
  lines: string[];
  stderr(): string;
  /** Settles when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line that parses as JSON and matches. */
  waitForLog(predicate: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * Starts the binary in a fresh folder with a config file of its own (so no
 * /etc/astraflow/worker.yaml, ./config or .env of the machine leaks in) and an
 * environment without inherited ASTRA_* variables.
 */
export async function startCli(options: { args?: string[]; env?: Record<string, string>; config?: string } = {}): Promise<Cli> {
  const dir = await scratch('astra-cli-');
  const configFile = join(dir, 'worker.yaml');
  await writeFile(
    configFile,
    options.config ??
      [
        '# fast timers for tests',
        'heartbeat_interval_seconds: 0.5',
        'heartbeat_jitter_seconds: 0.05',
        'reconnect_base_delay_seconds: 0.05',
        'reconnect_max_delay_seconds: 0.5',
        'ack_retry_base_ms: 50',
        'ack_retry_max_ms: 400',
        'ws_ping_interval_seconds: 0',
        'packages_dir: ./node-packages',
        'data_dir: ./var/data',
        '',
      ].join('\n'),
  );
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ASTRA_') && value !== undefined) env[key] = value;
  }
  Object.assign(env, { ASTRA_WORKER_CONFIG_FILE: configFile, ...options.env });
  const child = spawn(process.execPath, [BIN, ...(options.args ?? [])], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
  });
  return {
    child,
    dir,
    lines,
    stderr: () => stderr,
    exited,
    waitForLog(predicate, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (const line of lines) {
            let entry: unknown;
            try {
              entry = JSON.parse(line);
            } catch {
              continue;
            }
            if (entry && typeof entry === 'object' && predicate(entry as Record<string, unknown>)) {
              cleanup();
              resolve(entry as Record<string, unknown>);
              return true;
            }
          }
          return false;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(onData);
        };
        const onData = (): void => void check();
        if (!check()) listeners.add(onData);
      });
    },
  };
}
