import { loadSettings } from './load-settings.js';
import type { Settings } from './settings.js';

let cache: { readonly cwd: string; readonly settings: Settings } | undefined;

/**
 * The process-wide settings: {@link loadSettings} with `process.env` and
 * `process.cwd()`, loaded on first use and then returned as the same frozen
 * object. Later changes to `process.env` are not seen until
 * {@link resetSettingsCache}; a changed working directory reloads. A failed
 * load is not cached, so it throws again on the next call.
 */
export function getSettings(): Settings {
  const cwd = process.cwd();
  if (cache === undefined || cache.cwd !== cwd) cache = { cwd, settings: loadSettings() };
  return cache.settings;
}

/** Forgets the memoised settings so the next {@link getSettings} loads again (for tests). */
export function resetSettingsCache(): void {
  cache = undefined;
}
