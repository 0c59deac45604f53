import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSettings, redactSettings, type Settings } from '@astraflow/config';
import {
  AstraError,
  ErrorCode,
  isAuthErrorCode,
  scrubSecrets,
  type Logger,
  type Transport,
  errorMessage,
} from '@astraflow/protocol';
import {
  createLogger,
  scrubSecretEnv,
  setup,
  type RunningTask,
  type Watchdog,
  type WatchdogOptions,
  type Worker,
} from '@astraflow/worker';
import { USAGE, parseCliArgs } from './cli-args.js';
import { PACKAGE_COMMANDS } from './package-command-names.js';

/** Exit codes of `astraflow-worker`. */
export const ExitCode = {
  /** Stopped normally (after a signal or a scheduler drain), or `--help` / `--version`. */
  OK: 0,
  /** Unexpected failure: a fatal error not listed here, or start-up failed. */
  FAILURE: 1,
  /** Invalid settings or command line. */
  CONFIG: 2,
  /** The scheduler refused authentication and `reconnect_abort_on_auth_error` is set. */
  AUTH: 3,
  /** A protocol failure and `reconnect_abort_on_protocol_error` is set. */
  PROTOCOL: 4,
  /** The watchdog found the main event loop blocked longer than `watchdog_timeout_seconds`. */
  WATCHDOG: 70,
  /** A second SIGTERM/SIGINT cut the graceful stop short. */
  INTERRUPTED: 130,
} as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Process I/O, injectable for tests. */
export interface MainIo {
  /** Arguments after the script path. */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Directory relative settings paths and `./config`, `./.env` are resolved against. */
  cwd: string;
  /** `--help` and `--version`; log lines go to the process's stdout (pretty when `isTTY`). */
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** The one-line reason of a fatal error. */
  stderr: NodeJS.WritableStream;
  /** Ends the process; called exactly once. */
  exit(code: number): void;
  /** Starts the event-loop watchdog (only the real process does; see `watchdog_enabled`). */
  startWatchdog?(options: WatchdogOptions): Watchdog;
}

/** `watchdog_timeout_seconds`, or when 0, three heartbeat periods (interval + jitter), at least 5 s; in ms. */
export function watchdogTimeoutMs(settings: Settings): number {
  const seconds =
    settings.watchdog_timeout_seconds > 0
      ? settings.watchdog_timeout_seconds
      : Math.max(5, 3 * (settings.heartbeat_interval_seconds + settings.heartbeat_jitter_seconds));
  return Math.max(500, Math.round(seconds * 1000));
}

/** Exit code for an error that ended the worker. */
function exitCodeFor(err: unknown): number {
  if (!AstraError.isInstance(err)) return ExitCode.FAILURE;
  if (err.code === ErrorCode.CONFIG_INVALID) return ExitCode.CONFIG;
  if (isAuthErrorCode(err.code)) return ExitCode.AUTH;
  if (err.details?.['failure'] === 'protocol') return ExitCode.PROTOCOL;
  return ExitCode.FAILURE;
}

/**
 * One line on stderr, never a stack. AstraError messages are built without
 * secrets; the token is masked here as well in case a foreign message quotes it.
 */
function fatalLine(io: MainIo, err: unknown, secret?: string): void {
  let message = AstraError.isInstance(err) ? `${err.message} [${err.code}]` : errorMessage(err);
  message = scrubSecrets(message, [secret]);
  io.stderr.write(`astraflow-worker: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
}

/**
 * The in-memory test double, loaded only when `transport: dummy` is chosen: production runs never
 * import the scheduler simulator behind it. Other transports are built by `setup()`.
 */
async function dummyTransportFor(settings: Settings, logger: Logger): Promise<Transport | undefined> {
  if (settings.transport !== 'dummy') return undefined;
  const { createDummyTransport } = await import('@astraflow/transport-dummy');
  return createDummyTransport({ tenant: settings.tenant, logger });
}

async function createProcessLogger(io: MainIo, settings: Settings, instanceId: () => string | undefined): Promise<Logger> {
  const identity = { worker_name: settings.worker_name, tenant: settings.tenant, worker_instance_id: instanceId };
  if (io.stdout.isTTY) {
    // Loaded only for a terminal: a worker logging JSON lines never pays for it.
    const { build: pretty } = await import('pino-pretty');
    // Synchronous so the last lines before exit are not lost.
    const destination = pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', destination: 1, sync: true });
    return createLogger({ level: settings.log_level, destination, secrets: [settings.auth_token], identity });
  }
  return createLogger({ level: settings.log_level, secrets: [settings.auth_token], identity });
}

/**
 * Runs the worker as a process: settings, logger, signals, exit codes.
 * Resolves when the process should exit (after `io.exit` was called).
 */
export async function main(io: MainIo): Promise<void> {
  const command = io.argv[0];
  if (command !== undefined && (PACKAGE_COMMANDS as readonly string[]).includes(command)) {
    try {
      // Loaded on demand: the worker itself never needs ajv or tar for this.
      const { runPackageTool } = await import('./package-tool.js');
      const { out, code } = await runPackageTool(io.argv, io.cwd);
      for (const line of out) io.stdout.write(`${line}\n`);
      return io.exit(code);
    } catch (err) {
      fatalLine(io, err);
      return io.exit(AstraError.isInstance(err) && err.code === ErrorCode.CONFIG_INVALID ? ExitCode.CONFIG : ExitCode.FAILURE);
    }
  }
  let settings: Settings;
  const warnings: string[] = [];
  try {
    const args = parseCliArgs(io.argv);
    if (args.help) {
      io.stdout.write(`${USAGE}\n`);
      return io.exit(ExitCode.OK);
    }
    if (args.version) {
      io.stdout.write(`${version()}\n`);
      return io.exit(ExitCode.OK);
    }
    const env = args.configFile ? { ...io.env, ASTRA_WORKER_CONFIG_FILE: resolve(io.cwd, args.configFile) } : io.env;
    settings = loadSettings(
      { worker_version: version(), ...args.overrides },
      { cwd: io.cwd, env, onWarning: (message) => warnings.push(message) },
    );
  } catch (err) {
    fatalLine(io, err);
    return io.exit(ExitCode.CONFIG);
  }
  const secret = settings.auth_token;
  // Read once; from here on neither package code nor the threads and processes it starts can see them.
  scrubSecretEnv(io.env);

  // Listen before setup: a signal during start-up stops the worker as soon as it exists.
  let signals = 0;
  let worker: Worker | undefined;
  const logger = await createProcessLogger(io, settings, () => worker?.session.workerInstanceId ?? settings.worker_instance_id);
  for (const warning of warnings) logger.warn(warning);
  logger.info({ settings: redactSettings(settings) }, 'starting astraflow-worker');

  let exited = false;
  let interrupted!: () => void;
  const wasInterrupted = new Promise<void>((resolve) => (interrupted = resolve));
  let watchdog: Watchdog | undefined;
  const exit = (code: number): void => {
    if (exited) return;
    exited = true;
    void watchdog?.stop();
    io.exit(code);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.stderr.write(`astraflow-worker: second ${signal}, exiting without waiting for in-flight tasks\n`);
      exit(ExitCode.INTERRUPTED);
      interrupted();
      return;
    }
    logger.info(
      { signal, inflight: worker?.inflight ?? 0, grace_seconds: settings.shutdown_grace_seconds },
      'signal received: draining, in-flight tasks may finish',
    );
    void worker?.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    if (settings.watchdog_enabled && io.startWatchdog) {
      // Before setup: loading installed packages runs package code on this loop too.
      watchdog = io.startWatchdog({
        timeoutMs: watchdogTimeoutMs(settings),
        exitCode: ExitCode.WATCHDOG,
        onError: (err) => logger.error({ err: err.message }, 'watchdog thread failed; the event loop is no longer watched'),
      });
    }
    // One shared-memory write per task start and end (no message to the watchdog thread per task).
    const runningTasks = watchdog
      ? { started: (task: RunningTask) => watchdog?.taskStarted(task), ended: (task: RunningTask) => watchdog?.taskEnded(task) }
      : undefined;
    try {
      const transport = await dummyTransportFor(settings, logger);
      worker = await setup({
        settings,
        logger,
        ...(transport ? { transport } : {}),
        ...(runningTasks ? { runningTasks } : {}),
      });
    } catch (err) {
      fatalLine(io, err, secret);
      return exit(exitCodeFor(err));
    }
    if (signals > 0) void worker.stop();
    try {
      // A second signal has already exited; main returns without waiting for the worker.
      await Promise.race([worker.done, wasInterrupted]);
      exit(ExitCode.OK);
    } catch (err) {
      fatalLine(io, err, secret);
      exit(exitCodeFor(err));
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
