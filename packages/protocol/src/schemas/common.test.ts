import ajv2020Module from 'ajv/dist/2020.js';
import ajvFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { createRng } from '../random.test.util.js';
import { dateTime, intMin, isDateTime, isUri, jsonObject, nonEmpty, uri } from './common.js';

const ajv = new ajv2020Module.default({ strict: false });
ajvFormatsModule.default(ajv);
const ajvDateTime = ajv.compile({ type: 'string', format: 'date-time' });
const ajvUri = ajv.compile({ type: 'string', format: 'uri' });
const ajvInt0 = ajv.compile({ type: 'integer', minimum: 0 });
const ajvObject = ajv.compile({ type: 'object' });

/** `count` strings made by a few random edits (replace, delete, insert) of templates. */
function mutations(seed: number, templates: string[], alphabet: string, count: number): string[] {
  const rng = createRng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const chars = rng.pick(templates).split('');
    for (let edits = rng.int(1, 3); edits > 0; edits--) {
      const at = rng.int(0, chars.length);
      const op = rng.next();
      if (op < 0.6) chars[Math.min(at, chars.length - 1)] = rng.pick(alphabet);
      else if (op < 0.8) chars.splice(at, 1);
      else chars.splice(at, 0, rng.pick(alphabet));
    }
    out.push(chars.join(''));
  }
  return out;
}

describe('isDateTime', () => {
  it.each([
    ['2024-05-01T12:00:00Z', true],
    ['2024-05-01T12:00:00.123456789+14:00', true],
    ['2024-05-01t12:00:00z', true],
    ['2024-05-01 12:00:00-00:00', true],
    ['2024-05-01T12:00:00+0130', true],
    ['2024-05-01T12:00:00+01', true],
    ['2000-02-29T00:00:00Z', true],
    ['2016-12-31T23:59:60Z', true],
    ['2017-01-01T00:59:60+01:00', true],
    ['2024-05-01T12:00Z', false],
    ['2024-05-01T12:00:00', false],
    ['2024-05-01', false],
    ['1900-02-29T00:00:00Z', false],
    ['2024-04-31T00:00:00Z', false],
    ['2024-00-10T00:00:00Z', false],
    ['2024-05-01T12:60:00Z', false],
    ['2024-05-01T12:00:00+24:00', false],
    ['2016-12-31T23:58:60Z', false],
    ['2024-05-01T12:00:00.Z', false],
    ['2024-05-01TT12:00:00Z', false],
    ['+2024-05-01T12:00:00Z', false],
  ])('%s → %s', (text, expected) => {
    expect(isDateTime(text)).toBe(expected);
    expect(ajvDateTime(text)).toBe(expected);
    expect(dateTime.safeParse(text).success).toBe(expected);
  });

  it('agrees with ajv-formats on thousands of near-valid strings', () => {
    const templates = [
      '2024-02-29T23:59:60.123+01:30',
      '2016-12-31T23:59:60Z',
      '1999-12-31 00:00:00-0000',
      '2023-11-30t05:06:07z',
    ];
    const samples = mutations(20240501, templates, '0123456789:-+.TtZz 5', 20000);
    const disagreements = samples.filter((s) => isDateTime(s) !== ajvDateTime(s));
    expect(disagreements).toEqual([]);
    // The corpus must exercise both verdicts to mean anything.
    expect(samples.filter((s) => ajvDateTime(s)).length).toBeGreaterThan(500);
    expect(samples.filter((s) => !ajvDateTime(s)).length).toBeGreaterThan(500);
  });
});

describe('isUri', () => {
  it.each([
    ['https://packages.example.com/p-1.0.0.tgz', true],
    ['https://user:pw@host:8080/a/b%20c?x=1&y=/z#frag', true],
    ['file:///var/packages/p.tgz', true],
    ['http://[::1]/p', true],
    ['http://[2001:db8::7]:80/', true],
    ['http://[v1.fe:80]/', true],
    ['urn:isbn:0451450523', true],
    ['mailto:ops@example.com', true],
    ['http://', true],
    ['https:', false],
    ['/relative/path', false],
    ['packages/p.tgz', false],
    ['1http://host/', false],
    ['https://host/a b', false],
    ['https://host/%zz', false],
    ['https://host/é', false],
    ['http://[::1::2]/', false],
    ['http://[12345::]/', false],
    ['http://[::256.1.1.1]/', false],
    ['http://host/<script>', false],
  ])('%s → %s', (text, expected) => {
    expect(isUri(text)).toBe(expected);
    expect(ajvUri(text)).toBe(expected);
    expect(uri.safeParse(text).success).toBe(expected);
  });

  it('agrees with ajv-formats on thousands of near-valid strings', () => {
    const templates = [
      'https://user:pw@host.example:8080/a/b%20c?x=1&y=/z#frag',
      'http://[::ffff:1.2.3.4]/p',
      'http://[v1.x:y]/',
      'http://[2001:db8::7]/c=GB?objectClass?one',
      'h://[1:2:3:4:5:6:7::]',
      'urn:isbn:123',
      'file:///tmp/a.tgz',
    ];
    const samples = mutations(3986, templates, 'aZ09f:/?#[]@!$&\'()*+,;=%-._~ ^"<>\\{}|`.v2', 30000);
    const disagreements = samples.filter((s) => isUri(s) !== ajvUri(s));
    expect(disagreements).toEqual([]);
    expect(samples.filter((s) => ajvUri(s)).length).toBeGreaterThan(1000);
    expect(samples.filter((s) => !ajvUri(s)).length).toBeGreaterThan(1000);
  });
});

describe('intMin, jsonObject, nonEmpty', () => {
  it.each([0, 1, 2 ** 53 + 2, 1e21, 5.0, -0])('intMin(0) accepts %s like JSON Schema does', (value) => {
    expect(intMin(0).safeParse(value).success).toBe(true);
    expect(ajvInt0(value)).toBe(true);
  });

  it.each([-1, 0.5, '1', null, Number.NaN, true])('intMin(0) refuses %s', (value) => {
    expect(intMin(0).safeParse(value).success).toBe(false);
    expect(ajvInt0(value)).toBe(false);
  });

  it('jsonObject takes plain objects only', () => {
    for (const value of [{}, { a: [1] }, Object.create(null) as object]) {
      expect(jsonObject.safeParse(value).success).toBe(true);
      expect(ajvObject(value)).toBe(true);
    }
    for (const value of [[], null, 'x', 1, true]) {
      expect(jsonObject.safeParse(value).success).toBe(false);
      expect(ajvObject(value)).toBe(false);
    }
  });

  it('nonEmpty refuses the empty string only', () => {
    expect(nonEmpty.safeParse('').success).toBe(false);
    expect(nonEmpty.safeParse(' ').success).toBe(true);
  });
});
