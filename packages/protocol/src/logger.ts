/** Log levels, as pino names them. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** A log method: `(fields, message)` or `(message)`, as in pino. */
export interface LogFn {
  (obj: Record<string, unknown>, msg?: string): void;
  (msg: string): void;
}

/**
 * The logger every package accepts. A pino logger satisfies it as is; any
 * other logger needs these six methods and `child`.
 */
export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  /** When present, lets hot paths skip building DEBUG/TRACE fields nobody reads. */
  isLevelEnabled?(level: LogLevel): boolean;
}

const noop = (): void => {};

/** A logger that discards everything (the default where none is injected). */
export function createNoopLogger(): Logger {
  const logger: Logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    child: () => logger,
    isLevelEnabled: () => false,
  };
  return logger;
}
