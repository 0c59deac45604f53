import type { LogFn, LogLevel, Logger } from '@astraflow/protocol';

/** Receives one enabled log call: `fields` is undefined when the call passed only a message. */
export type LogSink = (
  level: LogLevel,
  bindings: Record<string, unknown>,
  fields: Record<string, unknown> | undefined,
  msg: string | undefined,
) => void;

/**
 * A {@link Logger} that hands every enabled call, with its accumulated child
 * bindings, to `sink`; the one place that turns pino-style call shapes
 * (`(msg)` or `(fields, msg?)`) into a record.
 */
export function createSinkLogger(
  sink: LogSink,
  isEnabled: (level: LogLevel) => boolean,
  bindings: Record<string, unknown> = {},
): Logger {
  const method = (level: LogLevel): LogFn =>
    ((first: Record<string, unknown> | string, msg?: string): void => {
      if (!isEnabled(level)) return;
      if (typeof first === 'string') sink(level, bindings, undefined, first);
      else sink(level, bindings, first, msg);
    }) as LogFn;
  return {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    child: (extra) => createSinkLogger(sink, isEnabled, { ...bindings, ...extra }),
    isLevelEnabled: isEnabled,
  };
}
