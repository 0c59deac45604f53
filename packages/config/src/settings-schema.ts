import { z } from 'zod';
import { settingDefinitions } from './setting-definitions.js';
import type { Settings } from './settings.js';

type SchemaShape = { readonly [K in keyof Settings]: z.ZodType<Settings[K]> };

function buildShape(): SchemaShape {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, definition] of Object.entries(settingDefinitions)) shape[name] = definition.rule.schema;
  return shape as unknown as SchemaShape;
}

/**
 * Zod schema of a complete, already-normalised {@link Settings} object: every
 * field, typed values (no string forms), no unknown keys. `loadSettings` uses
 * the same per-field schemas after turning env strings into values; use this
 * one to check settings built by other means.
 *
 * @example
 * ```ts
 * const result = SettingsSchema.safeParse(candidate);
 * ```
 */
export const SettingsSchema = z.strictObject(buildShape());
