import { errorMessage } from '@astraflow/protocol';
import { exitProcess, guardProcessExit, startWatchdog } from '@astraflow/worker';
import { main } from './main.js';

/**
 * Runs {@link main} on the real process: its argv, environment, streams and
 * exit. Anything main lets escape is a bug; it still ends in one line and
 * exit code 1 rather than a stack trace. Package code cannot end this
 * process: `process.exit`/`process.abort` throw (failing the task that
 * called them), and only the worker's own exit paths end it.
 */
export async function runProcess(cwd: string): Promise<void> {
  guardProcessExit();
  const exit = (code: number): void => {
    process.exitCode = code;
    // A tick later, so what was written to stdout/stderr drains first.
    setImmediate(() => exitProcess(code));
  };
  try {
    await main({
      argv: process.argv.slice(2),
      env: process.env,
      cwd,
      stdout: process.stdout,
      stderr: process.stderr,
      exit,
      startWatchdog,
    });
  } catch (err) {
    process.stderr.write(`astraflow-worker: unexpected failure: ${errorMessage(err)}\n`);
    exit(1);
  }
}
