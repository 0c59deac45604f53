import type { LogLevel, Logger } from '@astraflow/protocol';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * `parent.child(bindings)`, made on the first line actually written: a task's
 * logger is mostly handed around and never used at an enabled level, and a
 * pino child per task is a measurable share of a short task. Lines at levels
 * `parent` has off are dropped without making it.
 */
export function createLazyChildLogger(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= parent.child(bindings));
  const logger = { child: (more: Record<string, unknown>) => real().child(more) } as Logger;
  if (parent.isLevelEnabled) logger.isLevelEnabled = (level) => parent.isLevelEnabled?.(level) ?? true;
  for (const level of LEVELS) {
    logger[level] = ((objOrMsg: Record<string, unknown> | string, msg?: string): void => {
      if (parent.isLevelEnabled?.(level) === false) return;
      const target = real();
      if (typeof objOrMsg === 'string') target[level](objOrMsg);
      else target[level](objOrMsg, msg);
    }) as Logger[LogLevel];
  }
  return logger;
}
