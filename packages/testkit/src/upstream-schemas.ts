import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import ajv2020Module from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import ajvFormatsModule from 'ajv-formats';

// Both are CommonJS; under NodeNext the default import is `module.exports`, whose `default` is the class / plugin.
const Ajv2020 = ajv2020Module.default;
const addFormats = ajvFormatsModule.default;

/** A verdict of one of the scheduler's unchanged JSON Schemas. */
export interface SchemaVerdict {
  valid: boolean;
  /** One line per problem, `<instance path> <message>`. */
  errors: string[];
}

/** Validators of the existing scheduler, built from the normative JSON Schemas exactly as published. */
export interface UpstreamSchemas {
  /** `biz/pkg.event.schema.json`: status `installed` or `failed` only. */
  pkgEvent(payload: unknown): SchemaVerdict;
  /** `manifest.schema.json`: what the scheduler's catalog loads from its packages root. */
  manifest(manifest: unknown): SchemaVerdict;
}

const require = createRequire(import.meta.url);

function load(file: string): Record<string, unknown> {
  const path = require.resolve(`@astraflow/protocol/schemas/${file}`);
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function verdictOf(validate: ValidateFunction): (value: unknown) => SchemaVerdict {
  return (value) => {
    const valid = validate(value);
    return {
      valid,
      errors: valid ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`.trim()),
    };
  };
}

/**
 * Compiles the scheduler's `biz.pkg.event` and manifest JSON Schemas (draft
 * 2020-12, with formats) with ajv, independently of the worker's own zod
 * schemas, so a test sees what the real scheduler would refuse.
 *
 * @example
 * ```ts
 * const schemas = createUpstreamSchemas();
 * schemas.pkgEvent({ name: 'echo', version: '1.0.0', status: 'uninstalled' }).valid; // false
 * ```
 */
export function createUpstreamSchemas(): UpstreamSchemas {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  return {
    pkgEvent: verdictOf(ajv.compile(load('biz/pkg.event.schema.json'))),
    manifest: verdictOf(ajv.compile(load('manifest.schema.json'))),
  };
}
