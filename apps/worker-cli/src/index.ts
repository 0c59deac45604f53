/**
 * `astraflow-worker`, the command-line AstraFlow worker. Run it with
 * `npx astraflow-worker --help`; embed it with {@link main}.
 *
 * @example
 * ```ts
 * import { main } from '@astraflow/worker-cli';
 *
 * await main({
 *   argv: ['--scheduler-url', 'ws://127.0.0.1:8080/ws/worker'],
 *   env: process.env,
 *   cwd: process.cwd(),
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   exit: (code) => process.exit(code),
 * });
 * ```
 *
 * @packageDocumentation
 */
export { ExitCode, main, watchdogTimeoutMs, type MainIo } from './main.js';
export { SETTING_FLAGS, USAGE, parseCliArgs, type CliArgs } from './cli-args.js';
