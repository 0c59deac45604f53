import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TOKEN } from './harness.js';

const BIN = join(
  dirname(createRequire(import.meta.url).resolve('@astraflow/worker-cli/package.json')),
  'bin',
  'astraflow-worker.js',
);

/** The real `astraflow-worker` binary, run as a child process in a folder that outlives it. */
export interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stderr so far (fatal errors). */
  stderr(): string;
  /** `kill -9`, then waits for the exit. */
  crash(): Promise<void>;
}

/**
 * Writes `<dir>/worker.yaml` (fast timers, everything under `dir`, `extra`
 * lines appended) and starts the binary in `dir` against `schedulerUrl`,
 * with no inherited `ASTRA_*` variables. Starting it again in the same
 * folder is a restart: same packages, same outbox, same instance id.
 */
export async function startWorkerProcess(dir: string, schedulerUrl: string, extra: string[] = []): Promise<WorkerProcess> {
  const configFile = join(dir, 'worker.yaml');
  await writeFile(
    configFile,
    [
      'heartbeat_interval_seconds: 0.5',
      'heartbeat_jitter_seconds: 0.05',
      'reconnect_base_delay_seconds: 0.05',
      'reconnect_max_delay_seconds: 0.2',
      'ack_retry_base_ms: 50',
      'ack_retry_max_ms: 400',
      'ack_retry_attempts: 8',
      'ws_ping_interval_seconds: 0',
      'packages_dir: ./node-packages',
      'data_dir: ./var/data',
      'log_level: warn',
      ...extra,
      '',
    ].join('\n'),
  );
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('ASTRA_') && value !== undefined) env[key] = value;
  }
  Object.assign(env, {
    ASTRA_WORKER_CONFIG_FILE: configFile,
    ASTRA_WORKER_SCHEDULER_WS_URL: schedulerUrl,
    ASTRA_WORKER_AUTH_TOKEN: TOKEN,
  });
  const child = spawn(process.execPath, [BIN], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    exited,
    stderr: () => stderr,
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
