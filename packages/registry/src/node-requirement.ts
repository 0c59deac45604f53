import semver from 'semver';

/** Outcome of checking a `node.requires` range against the running Node.js. */
export type RequirementCheck = 'satisfied' | 'unsatisfied' | 'invalid';

/**
 * Checks a manifest's `node.requires` against a Node.js version with npm's own
 * range grammar (`semver`): comparators, `^`, `~`, `||`, `x` wildcards and
 * hyphen ranges. A range `semver` cannot parse answers `invalid` (the caller
 * refuses the package rather than guess). Pre-release Node builds count as
 * their release line.
 */
export function checkNodeRequirement(range: string, nodeVersion: string = process.versions.node): RequirementCheck {
  if (range.trim() === '' || semver.validRange(range) === null) return 'invalid';
  const version = semver.coerce(nodeVersion, { includePrerelease: true });
  if (version === null) return 'invalid';
  return semver.satisfies(version, range, { includePrerelease: true }) ? 'satisfied' : 'unsatisfied';
}
