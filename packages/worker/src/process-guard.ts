import { AstraError, ErrorCode } from '@astraflow/protocol';

type ReallyExit = (code?: number) => never;
type ProcessWithReallyExit = NodeJS.Process & { reallyExit?: ReallyExit };

const proc = process as ProcessWithReallyExit;
// Captured when this module is first loaded, before any package code can replace them.
const originalExit = process.exit.bind(process);
const originalReallyExit = proc.reallyExit?.bind(process);
let exiting = false;
let guarded = false;

function refuse(call: string): never {
  throw new AstraError(
    ErrorCode.RUNNER_FAILURE,
    `${call} called by package code: a handler cannot end the worker process (fail the task by throwing instead)`,
    { details: { reason: 'process_exit' } },
  );
}

/**
 * Makes `process.exit`, `process.reallyExit` and `process.abort` throw
 * `E.RUNNER.FAILURE` instead of ending the process, so an inline handler
 * that calls them fails its task and the worker stays up. Only
 * {@link exitProcess} ends the process afterwards. Idempotent; for the
 * worker's own process (the CLI), not for a host that embeds the worker
 * and relies on `process.exit` itself.
 */
export function guardProcessExit(): void {
  if (guarded) return;
  guarded = true;
  process.exit = ((code?: number | string | null) => {
    if (exiting) return originalExit(code);
    return refuse(`process.exit(${code === undefined ? '' : JSON.stringify(code)})`);
  }) as typeof process.exit;
  if (originalReallyExit !== undefined) {
    // Node's own process.exit ends in process.reallyExit; package code could call it directly.
    proc.reallyExit = ((code?: number) => (exiting ? originalReallyExit(code) : refuse('process.reallyExit()'))) as ReallyExit;
  }
  process.abort = (() => refuse('process.abort()')) as typeof process.abort;
}

/** Ends the process with `code`, whether or not {@link guardProcessExit} is in place. */
export function exitProcess(code: number): never {
  exiting = true;
  return originalExit(code);
}
