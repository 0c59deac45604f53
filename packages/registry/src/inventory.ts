import type { ManifestEntry, PackageStatus } from '@astraflow/protocol';
import type { LoadFailure, PackageInventory } from './package-manager-types.js';
import { comparePackageRefs, isValidPackageName, isValidPackageVersion } from './versions.js';

/**
 * What `control.register` reports: installed packages with their raw
 * manifests, and the versions that failed to load, sorted by name then
 * version.
 */
export function buildInventory(
  installed: Iterable<{ name: string; version: string; raw: Record<string, unknown> }>,
  failures: Iterable<LoadFailure>,
): PackageInventory {
  const packages: PackageStatus[] = [];
  const manifests: ManifestEntry[] = [];
  for (const record of [...installed].sort(comparePackageRefs)) {
    packages.push({ name: record.name, version: record.version, status: 'installed' });
    manifests.push({ name: record.name, version: record.version, manifest: record.raw });
  }
  for (const failure of failures) {
    // Only folders that name a real package version are worth telling the scheduler about.
    if (isValidPackageName(failure.name) && isValidPackageVersion(failure.version)) {
      packages.push({ name: failure.name, version: failure.version, status: 'failed' });
    }
  }
  packages.sort(comparePackageRefs);
  return { packages, manifests };
}
