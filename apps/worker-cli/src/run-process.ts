import { errorMessage } from '@astraflow/protocol';
import { main } from './main.js';

/**
 * Runs {@link main} on the real process: its argv, environment, streams and
 * exit. Anything main lets escape is a bug; it still ends in one line and
 * exit code 1 rather than a stack trace.
 */
export async function runProcess(cwd: string): Promise<void> {
  const exit = (code: number): void => {
    process.exitCode = code;
    // A tick later, so what was written to stdout/stderr drains first.
    setImmediate(() => process.exit(code));
  };
  try {
    await main({ argv: process.argv.slice(2), env: process.env, cwd, stdout: process.stdout, stderr: process.stderr, exit });
  } catch (err) {
    process.stderr.write(`astraflow-worker: unexpected failure: ${errorMessage(err)}\n`);
    exit(1);
  }
}
