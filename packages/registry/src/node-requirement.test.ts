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

  it('answers unknown for ranges it does not evaluate', () => {
    expect(checkNodeRequirement('^20.0.0', '20.1.0')).toBe('unknown');
    expect(checkNodeRequirement('>=18 || >=20', '20.1.0')).toBe('unknown');
    expect(checkNodeRequirement('', '20.1.0')).toBe('unknown');
  });
});
