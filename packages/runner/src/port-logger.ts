import { errorMessage } from '@astraflow/protocol';
import type { LogLevel, Logger } from '@astraflow/protocol';
import { createSinkLogger, type LogSink } from './sink-logger.js';
import type { ThreadToMain } from './thread-messages.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/**
 * A {@link Logger} for handlers running in a worker thread: each call is
 * posted to the main thread, which writes it through the task's logger.
 * Levels the main logger would drop are skipped here, before cloning.
 */
export function createPortLogger(
  post: (message: ThreadToMain) => void,
  enabled: ReadonlySet<LogLevel>,
  bindings: Record<string, unknown> = {},
): Logger {
  const sink: LogSink = (level, bound, fields, text) => {
    const message: ThreadToMain = { t: 'log', level, bindings: bound };
    if (fields !== undefined) message.fields = fields;
    if (text !== undefined) message.msg = text;
    try {
      post(message);
    } catch (error) {
      // Values that cannot be structured-cloned (functions, …) must not make logging throw into the handler.
      const fallback: ThreadToMain = { t: 'log', level, bindings: {}, fields: { log_fields_dropped: errorMessage(error) } };
      if (text !== undefined) fallback.msg = text;
      post(fallback);
    }
  };
  return createSinkLogger(sink, (level) => enabled.has(level), bindings);
}

/** The levels `logger` writes (all of them when it cannot tell). */
export function enabledLevels(logger: Logger): LogLevel[] {
  return LEVELS.filter((level) => logger.isLevelEnabled?.(level) ?? true);
}
