import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Settings } from '@astraflow/config';
import { sampleArchive, sampleArchivesDir } from '@astraflow/examples';
import { createNoopLogger, type ExecDispatchPayload, type Frame, type Logger } from '@astraflow/protocol';
import { startReferenceScheduler, type ReferenceScheduler, type ReferenceSchedulerOptions } from '@astraflow/testkit';
import { setup, type SetupOptions, type Worker } from '@astraflow/worker';

export const TOKEN = 'e2e-secret-token';

/** A scratch folder removed by {@link Harness.cleanup}. */
export async function scratch(prefix = 'astra-e2e-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Settings for a worker under test: everything in `dir`, fast timers, no files from the machine. */
export function testSettings(dir: string, overrides: Record<string, unknown> = {}): Settings {
  return loadSettings(
    {
      auth_token: TOKEN,
      packages_dir: join(dir, 'node-packages'),
      data_dir: join(dir, 'var', 'data'),
      heartbeat_interval_seconds: 0.5,
      heartbeat_jitter_seconds: 0.05,
      reconnect_base_delay_seconds: 0.05,
      reconnect_max_delay_seconds: 0.5,
      ack_retry_base_ms: 50,
      ack_retry_max_ms: 400,
      ack_retry_attempts: 8,
      session_accept_timeout_seconds: 3,
      ws_ping_interval_seconds: 0,
      log_level: 'warn',
      ...overrides,
    },
    { cwd: dir, env: {}, defaultPaths: [] },
  );
}

/** Scheduler + worker + file server, torn down together. */
export interface Harness {
  dir: string;
  scheduler: ReferenceScheduler;
  worker: Worker;
  /** Base URL of an HTTP server serving the sample archives. */
  archivesUrl: string;
  cleanup(): Promise<void>;
}

export interface HarnessOptions {
  scheduler?: ReferenceSchedulerOptions;
  settings?: Record<string, unknown>;
  worker?: Omit<SetupOptions, 'settings'>;
  logger?: Logger;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await scratch();
  const scheduler = await startReferenceScheduler({ token: TOKEN, seed: 7, ...options.scheduler });
  const files = await scheduler.serveFiles(sampleArchivesDir);
  const settings = testSettings(dir, { scheduler_ws_url: scheduler.url, ...options.settings });
  const worker = await setup({ settings, logger: options.logger ?? createNoopLogger(), ...options.worker });
  return {
    dir,
    scheduler,
    worker,
    archivesUrl: files.baseUrl,
    async cleanup() {
      await worker.stop({ graceMs: 2000, flushMs: 1000 }).catch(() => {});
      await scheduler.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Installs a sample package over HTTP through the scheduler; returns the `biz.pkg.event`. */
export async function installSample(h: Harness, name: string, version = '1.0.0'): Promise<Frame> {
  const archive = sampleArchive(name, version);
  const file = archive.path.slice(sampleArchivesDir.length).replace(/^\/+/, '');
  return h.scheduler.installPackage({
    name,
    version,
    url: `${h.archivesUrl.replace(/\/$/, '')}/${file}`,
    sha256: archive.sha256,
  });
}

let counter = 0;

/** A dispatch payload for a sample node. */
export function task(
  nodeType: string,
  parameters: Record<string, unknown> = {},
  extra: Partial<ExecDispatchPayload> = {},
): ExecDispatchPayload {
  counter++;
  const pkg = nodeType.split('.')[0]!;
  return {
    run_id: 'run-e2e',
    task_id: `task-${counter}`,
    node_id: `node-${counter}`,
    node_type: nodeType,
    package_name: pkg,
    package_version: '1.0.0',
    parameters,
    constraints: {},
    ...extra,
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
