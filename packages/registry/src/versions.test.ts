import { describe, expect, it } from 'vitest';
import { compareVersions, isValidPackageName, isValidPackageVersion } from './versions.js';

describe('compareVersions', () => {
  it('orders by numeric major, minor, patch (not as strings)', () => {
    const sorted = ['10.0.0', '2.0.0', '2.10.0', '2.9.1', '1.0.0'].sort(compareVersions);
    expect(sorted).toEqual(['1.0.0', '2.0.0', '2.9.1', '2.10.0', '10.0.0']);
  });

  it('puts prereleases before their release, numeric identifiers numerically', () => {
    const sorted = ['1.0.0', '1.0.0-rc.10', '1.0.0-rc.2', '1.0.0-alpha'].sort(compareVersions);
    expect(sorted).toEqual(['1.0.0-alpha', '1.0.0-rc.2', '1.0.0-rc.10', '1.0.0']);
  });

  it('sorts non-versions after versions', () => {
    expect(['zzz', '1.0.0'].sort(compareVersions)).toEqual(['1.0.0', 'zzz']);
  });
});

describe('package name and version checks', () => {
  it('accept manifest-style names and versions', () => {
    expect(isValidPackageName('example.pkg')).toBe(true);
    expect(isValidPackageVersion('1.2.3-beta.1')).toBe(true);
  });

  it('refuse anything that could be a path trick', () => {
    for (const bad of ['..', '.hidden', 'a/b', 'A', '', 'a..b']) expect(isValidPackageName(bad)).toBe(false);
    for (const bad of ['1.0', '../1.0.0', '1.0.0/x', 'latest']) expect(isValidPackageVersion(bad)).toBe(false);
  });
});
