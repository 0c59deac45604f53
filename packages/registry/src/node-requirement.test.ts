import { describe, expect, it } from 'vitest';
import { checkNodeRequirement } from './node-requirement.js';

describe('checkNodeRequirement', () => {
  it('evaluates simple comparator sets', () => {
    expect(checkNodeRequirement('>=20', '20.18.1')).toBe('satisfied');
    expect(checkNodeRequirement('>=22', '20.18.1')).toBe('unsatisfied');
    expect(checkNodeRequirement('>=18.17 <23', '20.1.0')).toBe('satisfied');
    expect(checkNodeRequirement('>=18.17 <20', '20.1.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('=20.1.0', 'v20.1.0')).toBe('satisfied');
    expect(checkNodeRequirement('*', '20.1.0')).toBe('satisfied');
  });

  it('treats partial versions as spans like npm', () => {
    expect(checkNodeRequirement('20', '20.9.0')).toBe('satisfied');
    expect(checkNodeRequirement('>20', '20.9.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('<=20', '20.9.0')).toBe('satisfied');
    expect(checkNodeRequirement('<20.9', '20.9.0')).toBe('unsatisfied');
  });

  it('evaluates caret, tilde, x-ranges, hyphen ranges and alternatives', () => {
    expect(checkNodeRequirement('^18', '20.1.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('^20.0.0', '20.1.0')).toBe('satisfied');
    expect(checkNodeRequirement('~20.1', '20.2.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('~20.1', '20.1.9')).toBe('satisfied');
    expect(checkNodeRequirement('20.x', '20.5.0')).toBe('satisfied');
    expect(checkNodeRequirement('22.x', '20.5.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('18 - 20', '20.5.0')).toBe('satisfied');
    expect(checkNodeRequirement('^18 || ^22', '20.1.0')).toBe('unsatisfied');
    expect(checkNodeRequirement('^18 || ^20', '20.1.0')).toBe('satisfied');
  });

  it('counts a pre-release Node build as its release line', () => {
    expect(checkNodeRequirement('>=24', '24.0.0-nightly20260101')).toBe('satisfied');
  });

  it('answers invalid for ranges that do not parse', () => {
    expect(checkNodeRequirement('', '20.1.0')).toBe('invalid');
    expect(checkNodeRequirement('latest', '20.1.0')).toBe('invalid');
    expect(checkNodeRequirement('>=twenty', '20.1.0')).toBe('invalid');
  });
});
