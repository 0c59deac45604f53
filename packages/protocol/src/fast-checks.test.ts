import { describe, expect, it } from 'vitest';
import { createAjvOracle, readSchema, SCHEMA_FILE_OF_TYPE } from './ajv-oracle.test.util.js';
import { envelopeIsValid, payloadIsValid } from './fast-checks.js';
import { FrameType, type KnownFrameType } from './frame-types.js';
import { parseFrame } from './parse-frame.js';
import { suites, TS } from './payload-corpus.test.util.js';
import { payloadSchemas } from './payload-schemas.js';
import { createRefResolver, deriveCases } from './schema-driven-cases.test.util.js';
import { EnvelopeSchema } from './schemas/envelope.js';

const oracle = createAjvOracle();
const resolveRef = createRefResolver(() => {
  throw new Error('no $ref outside the payload schemas of the hot path');
});
const HOT: KnownFrameType[] = [FrameType.ACK, FrameType.EXEC_DISPATCH, FrameType.EXEC_RESULT, FrameType.EXEC_FEEDBACK];

/** Every hand-written and schema-derived case of `type`, as [name, value]. */
function corpus(type: KnownFrameType): [string, unknown][] {
  const suite = suites[type];
  const derived = Object.values(suite.valid).flatMap((v) => deriveCases(v, readSchema(SCHEMA_FILE_OF_TYPE[type]), resolveRef));
  return [
    ...Object.entries(suite.valid),
    ...Object.entries(suite.invalid),
    ...derived.map((c): [string, unknown] => [c.name, c.value]),
  ];
}

describe('fast checks accept only what the schemas accept', () => {
  it.each(HOT)('%s payload: fast ⇒ zod and ajv', (type) => {
    const wrong = corpus(type)
      .filter(([, value]) => payloadIsValid(type, value))
      .filter(([, value]) => !payloadSchemas[type].safeParse(value).success || !oracle.payload[type](value).valid)
      .map(([name]) => name);
    expect(wrong).toEqual([]);
  });

  it.each(HOT)('%s payload: the fast path takes the common valid cases', (type) => {
    const taken = Object.values(suites[type].valid).filter((value) => payloadIsValid(type, value));
    expect(taken.length).toBeGreaterThan(0);
  });

  it('other types never take a fast path', () => {
    expect(payloadIsValid(FrameType.HEARTBEAT, {})).toBe(false);
    expect(payloadIsValid('ext.acme.thing', {})).toBe(false);
  });

  it('envelope: fast ⇒ zod and ajv, over every case derived from a full envelope', () => {
    const full = {
      type: 'ext.acme.thing',
      id: 'f-1',
      ts: TS,
      tenant: 'default',
      sender: { role: 'worker', id: 'w' },
      corr: 'c',
      seq: 3,
      session_seq: 12,
      ack: { for: 'x', request: true },
      flags: ['a'],
      payload: { any: [1] },
    };
    const cases = deriveCases(full, readSchema('session/envelope.schema.json'), resolveRef);
    expect(cases.length).toBeGreaterThan(20);
    expect(envelopeIsValid(full)).toBe(true);
    const wrong = cases
      .filter((c) => envelopeIsValid(c.value))
      .filter((c) => !EnvelopeSchema.safeParse(c.value).success || !oracle.envelope(c.value).valid)
      .map((c) => c.name);
    expect(wrong).toEqual([]);
  });

  it('objects with an own __proto__ member go to the schema path (zod drops the member)', () => {
    const dispatch = JSON.parse(
      '{"run_id":"r","task_id":"t","node_id":"n","node_type":"a.b","package_name":"a","package_version":"1","parameters":{"__proto__":{"x":1}},"constraints":{}}',
    ) as unknown;
    expect(payloadIsValid(FrameType.EXEC_DISPATCH, dispatch)).toBe(false);
    const frame = {
      type: FrameType.EXEC_DISPATCH,
      id: 'd',
      ts: TS,
      tenant: 't',
      sender: { role: 'scheduler', id: 's' },
      session_seq: 1,
    };
    const parsed = parseFrame(JSON.stringify({ ...frame, payload: dispatch }).replace('"parameters":{}', ''));
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(Object.hasOwn((parsed.frame.payload as { parameters: object }).parameters, '__proto__')).toBe(false);
  });
});
