/**
 * Cross-check: every case is judged by our zod schemas AND by ajv on the
 * normative JSON Schemas (copied into `schemas/`); both must give the
 * expected verdict. Deliberate (ext) differences are separate, explicit cases.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { createAjvOracle, listSchemaFiles, readSchema, SCHEMA_FILE_OF_TYPE } from './ajv-oracle.test.util.js';
import { FrameType, type KnownFrameType } from './frame-types.js';
import { parseFrame } from './parse-frame.js';
import { fullManifest, ISO, minimalManifest, suites, TS, variant } from './payload-corpus.test.util.js';
import { payloadSchemas } from './payload-schemas.js';
import { createRefResolver, deriveCases, type DerivedCase } from './schema-driven-cases.test.util.js';
import { EnvelopeSchema } from './schemas/envelope.js';
import { ManifestSchema } from './schemas/manifest.js';

type Json = Record<string, unknown>;

interface Case {
  name: string;
  value: unknown;
  valid: boolean;
}

const oracle = createAjvOracle();

describe('schema corpus bookkeeping', () => {
  it('has a suite for every frame type, and every schema file is in use', () => {
    expect(Object.keys(suites).sort()).toEqual(Object.values(FrameType).sort());
    const used = new Set([...Object.values(SCHEMA_FILE_OF_TYPE), 'session/envelope.schema.json', 'manifest.schema.json']);
    expect(listSchemaFiles()).toEqual([...used].sort());
  });

  it('has several valid and at least three hand-written invalid cases per type', () => {
    for (const [type, suite] of Object.entries(suites)) {
      expect(Object.keys(suite.valid).length, type).toBeGreaterThanOrEqual(2);
      expect(Object.keys(suite.invalid).length, type).toBeGreaterThanOrEqual(3);
    }
  });
});

function casesOf(type: KnownFrameType): Case[] {
  const suite = suites[type];
  return [
    ...Object.entries(suite.valid).map(([name, value]) => ({ name: `valid: ${name}`, value, valid: true })),
    ...Object.entries(suite.invalid).map(([name, value]) => ({ name: `invalid: ${name}`, value, valid: false })),
  ];
}

function frameAround(type: string, payload: unknown): Json {
  return { type, id: `${type}-1`, ts: TS, tenant: 'default', sender: { role: 'scheduler', id: 'sched-1' }, payload };
}

function zodVerdict(schema: z.ZodType, value: unknown): { valid: boolean; errors: string[] } {
  const r = schema.safeParse(value);
  return { valid: r.success, errors: r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) };
}

describe.each(Object.values(FrameType))('%s payload: zod and ajv agree', (type) => {
  it.each(casesOf(type))('$name', ({ value, valid }) => {
    const zod = zodVerdict(payloadSchemas[type], value);
    const ajv = oracle.payload[type](value);
    expect({ zod: zod.valid, ajv: ajv.valid }, `zod: ${zod.errors.join('; ')} | ajv: ${ajv.errors.join('; ')}`).toEqual({
      zod: valid,
      ajv: valid,
    });
    // The same payload inside a frame, through the real entry point, as wire text.
    const frame = frameAround(type, value);
    const parsed = parseFrame(JSON.stringify(frame));
    expect(parsed.ok, parsed.ok ? '' : parsed.error.message).toBe(valid);
    expect(oracle.frame(frame).valid).toBe(valid);
    if (!parsed.ok)
      expect(parsed.error.stage).toBe(
        value !== null && typeof value === 'object' && !Array.isArray(value) ? 'payload' : 'envelope',
      );
  });
});

const baseEnvelope: Json = {
  type: 'ext.acme.thing',
  id: 'frame-1',
  ts: TS,
  tenant: 'default',
  sender: { role: 'worker', id: 'w-1' },
  payload: {},
};
const fullEnvelope: Json = {
  ...baseEnvelope,
  corr: 'dispatch-1',
  seq: 3,
  session_seq: 12,
  ack: { for: 'frame-0', request: true },
  flags: ['compressed'],
  payload: { anything: [1, 'two'] },
};

const envelopeCases: Case[] = [
  { name: 'valid: minimal', value: baseEnvelope, valid: true },
  { name: 'valid: full', value: fullEnvelope, valid: true },
  {
    name: 'valid: nulls',
    value: { ...baseEnvelope, corr: null, seq: null, session_seq: null, ack: { for: null, request: null } },
    valid: true,
  },
  {
    name: 'valid: empty ack and flags, zero seqs',
    value: { ...baseEnvelope, ack: {}, flags: [], seq: 0, session_seq: 0 },
    valid: true,
  },
  {
    name: 'valid: scheduler sender, empty corr',
    value: { ...baseEnvelope, corr: '', sender: { role: 'scheduler', id: 's' } },
    valid: true,
  },
  { name: 'valid: ts with offset and fraction', value: { ...baseEnvelope, ts: ISO }, valid: true },
  { name: 'valid: ts with lower-case t and z', value: { ...baseEnvelope, ts: '2024-05-01t12:00:00.5z' }, valid: true },
  { name: 'valid: ts with a space separator', value: { ...baseEnvelope, ts: '2024-05-01 12:00:00+00:00' }, valid: true },
  { name: 'valid: ts with a compact offset', value: { ...baseEnvelope, ts: '2024-05-01T12:00:00-0530' }, valid: true },
  { name: 'valid: ts on a leap day', value: { ...baseEnvelope, ts: '2024-02-29T00:00:00Z' }, valid: true },
  { name: 'valid: ts on a leap second', value: { ...baseEnvelope, ts: '2016-12-31T23:59:60Z' }, valid: true },
  { name: 'valid: seq past 2^53', value: { ...baseEnvelope, seq: 2 ** 60 }, valid: true },
  { name: 'invalid: ts without seconds', value: { ...baseEnvelope, ts: '2024-05-01T12:00Z' }, valid: false },
  { name: 'invalid: ts without zone', value: { ...baseEnvelope, ts: '2024-05-01T12:00:00' }, valid: false },
  { name: 'invalid: ts on 29 February of a common year', value: { ...baseEnvelope, ts: '2023-02-29T00:00:00Z' }, valid: false },
  { name: 'invalid: ts leap second not at 23:59 UTC', value: { ...baseEnvelope, ts: '2016-12-31T23:59:60+01:00' }, valid: false },
  { name: 'invalid: ts hour 24', value: { ...baseEnvelope, ts: '2024-05-01T24:00:00Z' }, valid: false },
  { name: 'invalid: ts as epoch millis', value: { ...baseEnvelope, ts: 1714564800000 }, valid: false },
  { name: 'invalid: type empty', value: { ...baseEnvelope, type: '' }, valid: false },
  { name: 'invalid: id empty', value: { ...baseEnvelope, id: '' }, valid: false },
  { name: 'invalid: tenant empty', value: { ...baseEnvelope, tenant: '' }, valid: false },
  {
    name: 'invalid: sender role outside the enum',
    value: { ...baseEnvelope, sender: { role: 'client', id: 'c' } },
    valid: false,
  },
  { name: 'invalid: sender id empty', value: { ...baseEnvelope, sender: { role: 'worker', id: '' } }, valid: false },
  { name: 'invalid: sender without id', value: { ...baseEnvelope, sender: { role: 'worker' } }, valid: false },
  {
    name: 'invalid: sender extra property',
    value: { ...baseEnvelope, sender: { role: 'worker', id: 'w', host: 'h' } },
    valid: false,
  },
  { name: 'invalid: seq below minimum', value: { ...baseEnvelope, seq: -1 }, valid: false },
  { name: 'invalid: session_seq not an integer', value: { ...baseEnvelope, session_seq: 1.5 }, valid: false },
  { name: 'invalid: ack extra property', value: { ...baseEnvelope, ack: { for: 'x', seq: 1 } }, valid: false },
  { name: 'invalid: ack.request as a string', value: { ...baseEnvelope, ack: { request: 'yes' } }, valid: false },
  { name: 'invalid: flags item empty', value: { ...baseEnvelope, flags: [''] }, valid: false },
  { name: 'invalid: flags item a number', value: { ...baseEnvelope, flags: [1] }, valid: false },
];

describe('envelope: zod and ajv agree', () => {
  it.each(envelopeCases)('$name', ({ value, valid }) => {
    const zod = zodVerdict(EnvelopeSchema, value);
    const ajv = oracle.envelope(value);
    expect({ zod: zod.valid, ajv: ajv.valid }, `zod: ${zod.errors.join('; ')} | ajv: ${ajv.errors.join('; ')}`).toEqual({
      zod: valid,
      ajv: valid,
    });
    const parsed = parseFrame(JSON.stringify(value));
    expect(parsed.ok).toBe(valid);
    if (!parsed.ok) expect(parsed.error.stage).toBe('envelope');
  });
});

const manifestCases: Case[] = [
  { name: 'valid: minimal', value: minimalManifest, valid: true },
  { name: 'valid: full', value: fullManifest, valid: true },
  {
    name: 'valid: entrypoint module:Class',
    value: variant(minimalManifest, (d) => (d.adapters[0].entrypoint = 'adapters.echo:Echo')),
    valid: true,
  },
  { name: 'valid: boolean node schema', value: variant(minimalManifest, (d) => (d.nodes[0].schema = false)), valid: true },
  { name: 'invalid: schemaVersion not x.y.z', value: { ...minimalManifest, schemaVersion: '1.0' }, valid: false },
  { name: 'invalid: name with upper case', value: { ...minimalManifest, name: 'Example' }, valid: false },
  { name: 'invalid: name with a trailing dot', value: { ...minimalManifest, name: 'example.' }, valid: false },
  { name: 'invalid: version not semver', value: { ...minimalManifest, version: 'v1' }, valid: false },
  { name: 'invalid: adapters empty', value: { ...minimalManifest, adapters: [] }, valid: false },
  { name: 'invalid: nodes empty', value: { ...minimalManifest, nodes: [] }, valid: false },
  {
    name: 'invalid: adapter capabilities empty',
    value: variant(minimalManifest, (d) => (d.adapters[0].capabilities = [])),
    valid: false,
  },
  {
    name: 'invalid: adapter extra property',
    value: variant(minimalManifest, (d) => (d.adapters[0].runtime = 'node')),
    valid: false,
  },
  {
    name: 'invalid: absolute entrypoint',
    value: variant(minimalManifest, (d) => (d.adapters[0].entrypoint = '/abs/echo.js')),
    valid: false,
  },
  {
    name: 'invalid: entrypoint leaving the package',
    value: variant(minimalManifest, (d) => (d.adapters[0].entrypoint = '../echo.js')),
    valid: false,
  },
  {
    name: 'invalid: entrypoint with an empty export',
    value: variant(minimalManifest, (d) => (d.adapters[0].entrypoint = 'adapters.echo:')),
    valid: false,
  },
  {
    name: 'invalid: node status outside the enum',
    value: variant(minimalManifest, (d) => (d.nodes[0].status = 'beta')),
    valid: false,
  },
  { name: 'invalid: node schema a number', value: variant(minimalManifest, (d) => (d.nodes[0].schema = 42)), valid: false },
  { name: 'invalid: node without schema', value: variant(minimalManifest, (d) => delete d.nodes[0].schema), valid: false },
  {
    name: 'invalid: node handler with a dash',
    value: variant(minimalManifest, (d) => (d.nodes[0].handler = 'do-it')),
    valid: false,
  },
  { name: 'invalid: node type with a space', value: variant(minimalManifest, (d) => (d.nodes[0].type = 'a b')), valid: false },
  { name: 'invalid: python without requires', value: { ...minimalManifest, python: { dependencies: [] } }, valid: false },
  {
    name: 'invalid: python extra property',
    value: { ...minimalManifest, python: { requires: '>=3', venv: true } },
    valid: false,
  },
  {
    name: 'invalid: resource sha256 too short',
    value: { ...minimalManifest, resources: [{ path: 'a', type: 'b', sha256: 'abc' }] },
    valid: false,
  },
  { name: 'invalid: resource without type', value: { ...minimalManifest, resources: [{ path: 'a' }] }, valid: false },
  {
    name: 'invalid: binding mode outside the enum',
    value: variant(fullManifest, (d) => (d.nodes[0].ui.widgets[0].binding.mode = 'readwrite')),
    valid: false,
  },
  {
    name: 'invalid: binding scope kind outside the enum',
    value: variant(fullManifest, (d) => (d.nodes[0].ui.widgets[0].binding.scope.kind = 'global')),
    valid: false,
  },
  {
    name: 'invalid: port without binding',
    value: variant(fullManifest, (d) => delete d.nodes[0].ui.inputPorts[0].binding),
    valid: false,
  },
  { name: 'invalid: ui extra property', value: variant(fullManifest, (d) => (d.nodes[0].ui.layout = 'grid')), valid: false },
  { name: 'invalid: hooks.install a string', value: { ...minimalManifest, hooks: { install: 'setup.sh' } }, valid: false },
  {
    name: 'invalid: signature sha256 not hex',
    value: { ...minimalManifest, signature: { sha256: 'z'.repeat(64) } },
    valid: false,
  },
];

describe('manifest: zod and ajv agree', () => {
  it.each(manifestCases)('$name', ({ value, valid }) => {
    const zod = zodVerdict(ManifestSchema, value);
    const ajv = oracle.manifest(value);
    expect({ zod: zod.valid, ajv: ajv.valid }, `zod: ${zod.errors.join('; ')} | ajv: ${ajv.errors.join('; ')}`).toEqual({
      zod: valid,
      ajv: valid,
    });
  });
});

const resolveRef = createRefResolver((absolute) => {
  // pkg.catalog's `../manifest.schema.json#` resolves next to its own $id.
  if (absolute === 'https://astraflow.example.com/manifest.schema.json') return readSchema('manifest.schema.json');
  throw new Error(`no schema for ${absolute}`);
});

/** Every case derived from each valid case, deduplicated across them. */
function derivedFrom(valids: unknown[], schema: Record<string, unknown>): DerivedCase[] {
  const seen = new Set<string>();
  return valids
    .flatMap((value) => deriveCases(value, schema, resolveRef))
    .filter((c) => {
      const key = JSON.stringify(c.value);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}

/** Names of the cases where zod, ajv (or the frame path) do not both give the expected verdict. */
function disagreements(
  cases: DerivedCase[],
  judge: (value: unknown) => { zod: boolean; ajv: boolean; frame?: boolean },
): string[] {
  return cases.flatMap((c) => {
    const verdicts = judge(c.value);
    const wrong = Object.entries(verdicts)
      .filter(([, ok]) => ok !== c.valid)
      .map(([by]) => by);
    return wrong.length > 0 ? [`${c.valid ? 'valid' : 'invalid'}: ${c.name} (wrong: ${wrong.join(', ')})`] : [];
  });
}

describe('schema-driven cases (every rule, at every depth): zod and ajv agree', () => {
  it.each(Object.values(FrameType))('%s payload', (type) => {
    const cases = derivedFrom(Object.values(suites[type].valid), readSchema(SCHEMA_FILE_OF_TYPE[type]));
    expect(cases.filter((c) => !c.valid).length).toBeGreaterThanOrEqual(3);
    const wrong = disagreements(cases, (value) => ({
      zod: payloadSchemas[type].safeParse(value).success,
      ajv: oracle.payload[type](value).valid,
      frame: parseFrame(JSON.stringify(frameAround(type, value))).ok,
    }));
    expect(wrong).toEqual([]);
  });

  it('envelope', () => {
    const cases = derivedFrom(
      envelopeCases.filter((c) => c.valid).map((c) => c.value),
      readSchema('session/envelope.schema.json'),
    );
    expect(cases.length).toBeGreaterThan(40);
    expect(
      disagreements(cases, (value) => ({ zod: EnvelopeSchema.safeParse(value).success, ajv: oracle.envelope(value).valid })),
    ).toEqual([]);
  });

  it('manifest', () => {
    const cases = derivedFrom(
      manifestCases.filter((c) => c.valid).map((c) => c.value),
      readSchema('manifest.schema.json'),
    );
    expect(cases.length).toBeGreaterThan(100);
    expect(
      disagreements(cases, (value) => ({ zod: ManifestSchema.safeParse(value).success, ajv: oracle.manifest(value).valid })),
    ).toEqual([]);
  });
});

describe('upstream fixture manifests', () => {
  const read = (name: string): Json =>
    JSON.parse(readFileSync(new URL(`../fixtures/upstream-manifests/${name}`, import.meta.url), 'utf8')) as Json;

  it.each(['example_pkg.manifest.json', 'system.manifest.json'])('%s parses with ManifestSchema', (name) => {
    const manifest = read(name);
    const parsed = ManifestSchema.safeParse(manifest);
    expect(parsed.success, parsed.success ? '' : parsed.error.message).toBe(true);
    expect(parsed.data?.name).toBe(manifest.name);
    expect(parsed.data?.nodes.length).toBe((manifest.nodes as unknown[]).length);
    // Also valid inside a catalog frame.
    const frame = frameAround(FrameType.PKG_CATALOG, {
      packages: [{ name: manifest.name, version: manifest.version, status: 'installed', manifest }],
    });
    expect(parseFrame(JSON.stringify(frame)).ok).toBe(true);
  });

  it('example_pkg is valid for the upstream schema too', () => {
    expect(oracle.manifest(read('example_pkg.manifest.json')).valid).toBe(true);
  });

  it('system differs from the upstream schema only by the node "role" members it uses', () => {
    const manifest = read('system.manifest.json');
    const before = oracle.manifest(manifest);
    expect(before.valid).toBe(false);
    expect(before.errors.every((e) => e.includes('must NOT have additional properties'))).toBe(true);
    const withoutRole = variant(manifest, (d) => {
      for (const node of d.nodes) delete node.role;
    });
    expect(oracle.manifest(withoutRole).valid).toBe(true);
  });
});

/**
 * Deliberate differences: our zod schemas accept what the upstream JSON
 * Schemas refuse. Each is an (ext) item of docs/protocol.md or a
 * JavaScript necessity; anything else accepted only by zod is a bug.
 */
describe('deliberate differences: zod accepts, ajv rejects', () => {
  const nodeBlock = { requires: '>=20.18.1' };
  const manifestCasesOfDifference: [string, Json][] = [
    ['manifest with a node block beside python', { ...minimalManifest, node: nodeBlock }],
    ['node-only manifest (no python block)', variant({ ...minimalManifest, node: nodeBlock }, (d) => delete d.python)],
    ['entrypoint as a relative file path', variant(minimalManifest, (d) => (d.adapters[0].entrypoint = 'adapters/echo.js'))],
    [
      'entrypoint file path with a named export',
      variant(minimalManifest, (d) => (d.adapters[0].entrypoint = 'adapters/echo.mjs:EchoAdapter')),
    ],
    ['node with a role', variant(minimalManifest, (d) => (d.nodes[0].role = 'middleware'))],
    ['handler with a $ (a JavaScript identifier)', variant(minimalManifest, (d) => (d.nodes[0].handler = '$handle'))],
  ];

  it.each(manifestCasesOfDifference)('manifest: %s', (_name, value) => {
    expect(zodVerdict(ManifestSchema, value).valid).toBe(true);
    expect(oracle.manifest(value).valid).toBe(false);
    const catalog = { packages: [{ name: 'p', version: '1', status: 'installed', manifest: value }] };
    expect(payloadSchemas[FrameType.PKG_CATALOG].safeParse(catalog).success).toBe(true);
    expect(oracle.payload[FrameType.PKG_CATALOG](catalog).valid).toBe(false);
  });

  it('biz.pkg.event status "uninstalled" (ext)', () => {
    const payload = { name: 'example.pkg', version: '1.0.0', status: 'uninstalled' };
    expect(zodVerdict(payloadSchemas[FrameType.PKG_EVENT], payload).valid).toBe(true);
    expect(oracle.payload[FrameType.PKG_EVENT](payload).valid).toBe(false);
    expect(parseFrame(JSON.stringify(frameAround(FrameType.PKG_EVENT, payload))).ok).toBe(true);
  });

  it('a JSON "__proto__" member is dropped by zod (never applied as a prototype), refused by ajv', () => {
    // zod skips "__proto__" keys on purpose, to rule out prototype pollution.
    const text = JSON.stringify(frameAround(FrameType.DRAIN, {})).replace(
      '"payload":{}',
      '"payload":{"__proto__":{"polluted":true}}',
    );
    expect(oracle.frame(JSON.parse(text)).valid).toBe(false);
    const parsed = parseFrame(text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(Object.keys(parsed.frame.payload)).toEqual([]);
      expect((parsed.frame.payload as Record<string, unknown>).polluted).toBeUndefined();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
