import { pino, stdSerializers } from 'pino';
import { REDACTED, scrubSecrets, type LogLevel, type Logger } from '@astraflow/protocol';

/** Who is logging: bound to every line so a fleet's logs can be told apart. */
export interface LogIdentity {
  worker_name: string;
  tenant: string;
  /** Read for each line: the id is often learnt from the scheduler after start-up. */
  worker_instance_id: () => string | undefined;
}

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
  /** Adds `worker_name`, `tenant` and `worker_instance_id` (null until known) to every line. */
  identity?: LogIdentity;
}

/**
 * A pino logger writing one JSON object per line, with the level as its name
 * (`"level":"warn"`, what log pipelines match on) and `err`/`error` fields
 * serialised as objects (type, message, stack, code, cause) rather than flat
 * strings. Secrets that might sit in logged objects are redacted by path as a
 * second line of defence (the session already redacts frames), and every
 * configured secret is masked in the finished line.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const { identity } = options;
  const secrets = (options.secrets ?? []).filter((s): s is string => typeof s === 'string' && s !== '');
  const config: pino.LoggerOptions = {
    level: options.level,
    ...(secrets.length > 0 ? { hooks: { streamWrite: (line: string) => scrubSecrets(line, secrets) } } : {}),
    base: {
      pid: process.pid,
      ...(identity ? { worker_name: identity.worker_name, tenant: identity.tenant } : {}),
      ...options.base,
    },
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: stdSerializers.err, error: stdSerializers.err },
    redact: {
      paths: ['auth_token', '*.auth_token', 'token', '*.token', 'session_token', '*.session_token', 'headers.authorization'],
      // Unset secrets stay unset in the line, so logs still show whether one is configured.
      censor: (value: unknown) => (value === undefined || value === null ? value : REDACTED),
    },
    ...(identity ? { mixin: () => ({ worker_instance_id: identity.worker_instance_id() ?? null }) } : {}),
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}
