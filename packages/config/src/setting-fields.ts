import { settingDefinitions, type SettingDefinition } from './setting-definitions.js';
import type { Settings } from './settings.js';

/** Documentation of one setting; the CLI README table is generated from {@link settingFields}. */
export interface SettingField {
  /** Field name in `Settings` and in config files. */
  readonly name: keyof Settings;
  /** Environment variable read for it (also in `.env`). */
  readonly env: `ASTRA_WORKER_${Uppercase<keyof Settings>}`;
  /** Human-readable type, e.g. `integer ≥ 1` or `websocket | dummy`. */
  readonly type: string;
  /** Human-readable default. */
  readonly default: string;
  /** One-line description. */
  readonly description: string;
  /** True when the value must never be logged. */
  readonly secret?: boolean;
}

/** The environment variable of a setting: `ASTRA_WORKER_` + upper-case name. */
export function envVarName<K extends keyof Settings>(name: K): `ASTRA_WORKER_${Uppercase<K>}` {
  return `ASTRA_WORKER_${name.toUpperCase() as Uppercase<K>}`;
}

function describeDefault(definition: SettingDefinition<unknown>): string {
  if (definition.defaultText !== undefined) return definition.defaultText;
  const value = definition.default;
  if (value === undefined) return 'none';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value);
}

/**
 * Every setting with its env variable, type, default and description, in
 * documentation order.
 *
 * @example
 * ```ts
 * for (const f of settingFields) console.log(`| ${f.name} | ${f.env} | ${f.type} | ${f.default} | ${f.description} |`);
 * ```
 */
export const settingFields: readonly SettingField[] = Object.freeze(
  (Object.keys(settingDefinitions) as (keyof Settings)[]).map((name): SettingField => {
    const definition = settingDefinitions[name] as SettingDefinition<unknown>;
    const field: SettingField = {
      name,
      env: envVarName(name),
      type: definition.rule.type,
      default: describeDefault(definition),
      description: definition.description,
      ...(definition.secret === true ? { secret: true } : {}),
    };
    return Object.freeze(field);
  }),
);
