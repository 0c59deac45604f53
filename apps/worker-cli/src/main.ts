import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSettings, redactSettings, type Settings } from '@astraflow/config';
import { AstraError, type Logger } from '@astraflow/protocol';
import { createLogger, setup, type Worker } from '@astraflow/worker';
import pretty from 'pino-pretty';
import { USAGE, parseCliArgs } from './cli-args.js';

/** Exit codes of `astraflow-worker`. */
export const ExitCode = {
  OK: 0,
  /** Runtime failure (e.g. a fatal session error other than auth). */
  FAILURE: 1,
  /** Invalid settings or command line. */
  CONFIG: 2,
  /** The scheduler refused authentication and reconnect_abort_on_auth_error is set. */
  AUTH: 3,
  /** A second signal cut the graceful stop short. */
  INTERRUPTED: 130,
} as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Process I/O, injectable for tests. */
export interface MainIo {
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
  exit(code: number): void;
}

/** One line on stderr, never a stack, never a secret (messages of AstraError are built without them). */
function fatalLine(io: MainIo, err: unknown): void {
  const message = AstraError.isInstance(err) ? `${err.message} [${err.code}]` : String((err as Error)?.message ?? err);
  io.stderr.write(`astraflow-worker: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
}

/**
 * Runs the worker as a process: settings, logger, signals, exit codes.
 * Resolves when the process should exit (after `io.exit` was called).
 */
export async function main(io: MainIo): Promise<void> {
  let settings: Settings;
  let args;
  try {
    args = parseCliArgs(io.argv);
    if (args.help) {
      io.stdout.write(`${USAGE}\n`);
      return io.exit(ExitCode.OK);
    }
    if (args.version) {
      io.stdout.write(`${version()}\n`);
      return io.exit(ExitCode.OK);
    }
    const env = args.configFile ? { ...io.env, ASTRA_WORKER_CONFIG_FILE: resolve(io.cwd, args.configFile) } : io.env;
    settings = loadSettings({ worker_version: version(), ...args.overrides }, { cwd: io.cwd, env });
  } catch (err) {
    fatalLine(io, err);
    return io.exit(ExitCode.CONFIG);
  }

  const logger: Logger = createLogger({
    level: settings.log_level,
    ...(io.stdout.isTTY ? { destination: pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', destination: 1 }) } : {}),
  });
  logger.info({ settings: redactSettings(settings) }, 'starting astraflow-worker');

  let worker: Worker;
  try {
    worker = await setup({ settings, logger });
  } catch (err) {
    fatalLine(io, err);
    return io.exit(ExitCode.FAILURE);
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      io.stderr.write(`astraflow-worker: second ${signal}, exiting without waiting for in-flight tasks\n`);
      io.exit(ExitCode.INTERRUPTED);
      return;
    }
    logger.info({ signal, inflight: worker.inflight }, 'signal received: draining');
    void worker.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await worker.done;
    io.exit(ExitCode.OK);
  } catch (err) {
    fatalLine(io, err);
    const auth = AstraError.isInstance(err) && err.code.startsWith('E.AUTH.');
    io.exit(auth ? ExitCode.AUTH : ExitCode.FAILURE);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
