import { describe, expect, it } from 'vitest';
import { AstraError } from '@astraflow/protocol';
import { normalizeResult, normalizeStatus } from './normalize-result.js';

function failure(fn: () => unknown): AstraError {
  try {
    fn();
  } catch (error) {
    if (AstraError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

describe('normalizeStatus', () => {
  it.each([
    ['SUCCESS', 'SUCCEEDED'],
    ['succeeded', 'SUCCEEDED'],
    ['ok', 'SUCCEEDED'],
    ['Done', 'SUCCEEDED'],
    ['allowed', 'SUCCEEDED'],
    ['BLOCKED', 'SUCCEEDED'],
    ['error', 'FAILED'],
    ['fail', 'FAILED'],
    ['FAILED', 'FAILED'],
    ['cancel', 'CANCELLED'],
    ['cancelled', 'CANCELLED'],
    ['CANCELED', 'CANCELLED'],
    ['skip', 'SKIPPED'],
    ['Skipped', 'SKIPPED'],
  ])('maps %s to %s', (word, status) => {
    expect(normalizeStatus(word)).toBe(status);
  });

  it('treats a missing status as success and an unknown one as unknown', () => {
    expect(normalizeStatus(undefined)).toBe('SUCCEEDED');
    expect(normalizeStatus(null)).toBe('SUCCEEDED');
    expect(normalizeStatus('maybe')).toBeUndefined();
    expect(normalizeStatus(1)).toBeUndefined();
  });
});

describe('normalizeResult', () => {
  it('takes everything but status/metadata/artifacts as outputs when outputs is absent', () => {
    expect(normalizeResult({ status: 'ok', a: 1, b: { c: [1, 2] }, metadata: { m: 1 } })).toEqual({
      status: 'SUCCEEDED',
      outputs: { a: 1, b: { c: [1, 2] } },
      metadata: { m: 1 },
    });
  });

  it('uses outputs when present and ignores the other members', () => {
    expect(normalizeResult({ outputs: { x: 1 }, extra: 2 })).toEqual({ status: 'SUCCEEDED', outputs: { x: 1 } });
  });

  it('wraps non-object values', () => {
    expect(normalizeResult('text')).toEqual({ status: 'SUCCEEDED', outputs: { value: 'text' } });
    expect(normalizeResult(7)).toEqual({ status: 'SUCCEEDED', outputs: { value: 7 } });
    expect(normalizeResult(false)).toEqual({ status: 'SUCCEEDED', outputs: { value: false } });
    expect(normalizeResult([1, 'a'])).toEqual({ status: 'SUCCEEDED', outputs: { value: [1, 'a'] } });
    expect(normalizeResult(undefined)).toEqual({ status: 'SUCCEEDED', outputs: {} });
    expect(normalizeResult(null)).toEqual({ status: 'SUCCEEDED', outputs: {} });
    expect(normalizeResult({ outputs: 'only text' })).toEqual({ status: 'SUCCEEDED', outputs: { value: 'only text' } });
  });

  it('serialises dates and omits undefined members like JSON does', () => {
    const when = new Date('2024-01-02T03:04:05.000Z');
    expect(normalizeResult({ when, gone: undefined })).toEqual({
      status: 'SUCCEEDED',
      outputs: { when: '2024-01-02T03:04:05.000Z' },
    });
  });

  it('fails an unknown status word and says why', () => {
    const result = normalizeResult({ status: 'perhaps', a: 1 });
    expect(result.status).toBe('FAILED');
    expect(result.outputs).toEqual({ a: 1 });
    expect(result.error?.code).toBe('E.RUNNER.FAILURE');
    expect(result.error?.message).toContain('perhaps');
  });

  it.each([
    ['a BigInt', { outputs: { n: 1n } }, 'outputs.n'],
    ['a function deep down', { outputs: { a: [{ f: () => 1 }] } }, 'outputs.a[0].f'],
    ['a symbol', { s: Symbol('x') }, 's'],
    ['NaN', { r: Number.NaN }, 'r'],
    ['Infinity', { r: Number.NEGATIVE_INFINITY }, 'r'],
    ['a Map', { m: new Map() }, 'm'],
    ['undefined in an array', { list: [1, undefined] }, 'list[1]'],
  ])('refuses %s with E.RUNNER.FAILURE naming the path', (_label, value, path) => {
    const error = failure(() => normalizeResult(value));
    expect(error.code).toBe('E.RUNNER.FAILURE');
    expect(error.message).toContain(path);
  });

  it('refuses circular references but accepts shared ones', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(failure(() => normalizeResult({ loop })).message).toContain('circular');
    const shared = { v: 1 };
    expect(normalizeResult({ a: shared, b: shared }).outputs).toEqual({ a: { v: 1 }, b: { v: 1 } });
  });

  it('validates artifacts and metadata', () => {
    const artifact = { resource_id: 'r', worker_name: 'w', type: 'file' };
    expect(normalizeResult({ outputs: {}, artifacts: [artifact] }).artifacts).toEqual([artifact]);
    expect(failure(() => normalizeResult({ artifacts: [{ resource_id: 'r' }] })).message).toContain('artifacts[0]');
    expect(failure(() => normalizeResult({ artifacts: 'nope' })).code).toBe('E.RUNNER.FAILURE');
    expect(failure(() => normalizeResult({ metadata: [1] })).message).toContain('metadata');
  });
});
