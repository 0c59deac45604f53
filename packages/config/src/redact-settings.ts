import { REDACTED, isUrlLike, redactUrl } from '@astraflow/protocol';
import { settingDefinitions } from './setting-definitions.js';
import type { Settings } from './settings.js';

const SECRET_NAMES: ReadonlySet<string> = new Set(
  Object.entries(settingDefinitions)
    .filter(([, definition]) => definition.secret === true)
    .map(([name]) => name),
);

/**
 * A shallow copy of `settings` fit for logs: secret fields (`auth_token`)
 * that are set read `'***'`, unset ones stay undefined (so logs still show
 * whether a token is configured), and URLs lose their user info and query string
 * (`redactUrl` of `@astraflow/protocol`).
 *
 * @example
 * ```ts
 * logger.info({ settings: redactSettings(settings) }, 'settings loaded');
 * ```
 */
export function redactSettings(settings: Settings): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (SECRET_NAMES.has(name)) copy[name] = value === undefined ? undefined : REDACTED;
    else copy[name] = typeof value === 'string' && isUrlLike(value) ? redactUrl(value) : value;
  }
  return copy;
}
