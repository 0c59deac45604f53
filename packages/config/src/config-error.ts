import { AstraError, ErrorCode, isUrlLike, redactUrl, scrubSecrets } from '@astraflow/protocol';

/** Where a rejected value came from, and which field (when one is concerned). */
export interface ConfigErrorDetails {
  readonly source: string;
  readonly field?: string;
  readonly path?: string;
}

const MAX_SHOWN = 80;

/**
 * Renders a rejected value for a one-line message: quoted strings, JSON for
 * structures, cut at 80 characters. Secret values are never rendered.
 */
export function describeValue(value: unknown, secret: boolean): string {
  if (secret) return '<hidden>';
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return 'a symbol';
  let shown: string | undefined;
  try {
    shown = JSON.stringify(typeof value === 'string' ? (isUrlLike(value) ? redactUrl(value) : value) : value);
  } catch {
    shown = undefined;
  }
  if (shown === undefined) return `a ${typeof value}`;
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN - 1)}…` : shown;
}

/**
 * Builds the `E.CONFIG.INVALID` error. `secrets` are scrubbed from the
 * message as a last guard, in case one was pasted into the wrong field.
 */
export function configError(
  message: string,
  details: ConfigErrorDetails,
  secrets: ReadonlySet<string> = new Set(),
  cause?: unknown,
): AstraError {
  // Shorter values would mangle ordinary words; a rejected secret is never rendered anyway.
  const text = scrubSecrets(
    message.replace(/[\r\n]+/g, ' '),
    [...secrets].filter((s) => s.length >= 4),
  );
  const plain: Record<string, unknown> = {};
  if (details.field !== undefined) plain.field = details.field;
  plain.source = details.source;
  if (details.path !== undefined) plain.path = details.path;
  return new AstraError(ErrorCode.CONFIG_INVALID, text, cause === undefined ? { details: plain } : { details: plain, cause });
}
