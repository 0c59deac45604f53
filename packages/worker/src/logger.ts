import { pino } from 'pino';
import { REDACTED, scrubSecrets, type LogLevel, type Logger } from '@astraflow/protocol';

/** Options of {@link createLogger}. */
export interface CreateLoggerOptions {
  level: LogLevel;
  /** Where lines go; default stdout. Pass a pretty-printing stream for terminals. */
  destination?: NodeJS.WritableStream;
  /** Fields bound to every line. */
  base?: Record<string, unknown>;
  /**
   * Secrets (the auth token) masked wherever they appear in a finished line,
   * whatever a peer echoed them into: the last line of defence.
   */
  secrets?: ReadonlyArray<string | undefined>;
}

/**
 * A pino logger writing one JSON object per line. Secrets that might sit in
 * logged objects are redacted by path as a second line of defence (the
 * session already redacts frames), and every configured secret is masked
 * in the finished line.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s !== '');
  const config = {
    level: options.level,
    ...(secrets.length > 0 ? { hooks: { streamWrite: (line: string) => scrubSecrets(line, secrets) } } : {}),
    base: { pid: process.pid, ...options.base },
    redact: {
      paths: ['auth_token', '*.auth_token', 'token', '*.token', 'session_token', '*.session_token', 'headers.authorization'],
      // Unset secrets stay unset in the line, so logs still show whether one is configured.
      censor: (value: unknown) => (value === undefined || value === null ? value : REDACTED),
    },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
