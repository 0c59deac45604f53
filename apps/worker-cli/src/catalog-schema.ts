import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ajv2020Module from 'ajv/dist/2020.js';
import ajvFormatsModule from 'ajv-formats';

// Both are CommonJS; under NodeNext the default import is `module.exports`, whose `default` is the class / plugin.
const Ajv2020 = ajv2020Module.default;
const addFormats = ajvFormatsModule.default;

/**
 * Checks a manifest against the scheduler's manifest JSON Schema exactly as
 * published (`@astraflow/protocol/schemas/manifest.schema.json`), the check
 * its catalog applies to every package it finds. Returns one line per
 * problem; empty when the catalog would load it.
 */
export function catalogProblems(manifest: unknown): string[] {
  const path = createRequire(import.meta.url).resolve('@astraflow/protocol/schemas/manifest.schema.json');
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>);
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map(
    (e) =>
      `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${
        e.keyword === 'additionalProperties'
          ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
          : ''
      }`,
  );
}
