/**
 * Settings of the AstraFlow worker: explicit values, one YAML/JSON file,
 * `ASTRA_WORKER_*` environment variables, `.env` and defaults, merged per
 * field in that order, validated and frozen.
 *
 * @example
 * ```ts
 * import { getSettings, redactSettings } from '@astraflow/config';
 *
 * const settings = getSettings(); // throws AstraError E.CONFIG.INVALID on bad input
 * logger.info({ settings: redactSettings(settings) }, 'starting');
 * if (settings.transport === 'websocket') connect(settings.scheduler_ws_url);
 * ```
 *
 * @packageDocumentation
 */
export type { AuthMode, HandlerExecModeDefault, QueueOverflowPolicy, Settings, TransportName } from './settings.js';
export { SettingsSchema } from './settings-schema.js';
export { envVarName, settingFields, type SettingField } from './setting-fields.js';
export { CONFIG_FILE_ENV, PACKAGES_ROOT_ENV, loadSettings, type LoadSettingsOptions } from './load-settings.js';
export { defaultConfigPaths } from './config-file.js';
export { getSettings, resetSettingsCache } from './get-settings.js';
export { redactSettings } from './redact-settings.js';
export { normalizeLogLevel } from './log-level.js';
