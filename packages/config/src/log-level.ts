import type { LogLevel } from '@astraflow/protocol';

const LEVELS: Readonly<Record<string, LogLevel>> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  // The Python worker's name for its highest level.
  critical: 'fatal',
};

/**
 * Maps TRACE/DEBUG/INFO/WARN/WARNING/ERROR/FATAL/CRITICAL (any case, surrounding
 * blanks ignored) to pino's level name; undefined for anything else.
 *
 * @example
 * ```ts
 * normalizeLogLevel('WARNING'); // 'warn'
 * ```
 */
export function normalizeLogLevel(raw: string): LogLevel | undefined {
  const key = raw.trim().toLowerCase();
  return Object.hasOwn(LEVELS, key) ? LEVELS[key] : undefined;
}
