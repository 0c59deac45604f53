import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createUpstreamSchemas } from '@astraflow/testkit';
import { describe, expect, it } from 'vitest';

const examplesDir = dirname(createRequire(import.meta.url).resolve('@astraflow/examples/package.json'));
const manifestOf = async (folder: string): Promise<unknown> =>
  JSON.parse(await readFile(join(examplesDir, 'packages', folder, 'manifest.json'), 'utf8'));

describe("sample packages against the scheduler's unchanged manifest schema (ajv)", () => {
  const schemas = createUpstreamSchemas();

  it.each(['echo', 'samples'])('%s is catalog-compatible', async (folder) => {
    expect(schemas.manifest(await manifestOf(folder))).toEqual({ valid: true, errors: [] });
  });

  it('echo 2.0.0 keeps the older node-block form, which the catalog would refuse', async () => {
    const verdict = schemas.manifest(await manifestOf('echo-2'));
    expect(verdict.valid).toBe(false);
    expect(verdict.errors.join('\n')).toMatch(/must have required property 'python'/);
  });
});
