/** Package names, as the manifest schema allows them (also safe as a folder name). */
const NAME_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** Package versions, as the manifest schema allows them (also safe as a folder name). */
const VERSION_RE = /^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$/;
const SEMVER_RE = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** True when `name` is a valid package name (lower-case, `.`/`_`/`-` separated). */
export function isValidPackageName(name: string): boolean {
  return NAME_RE.test(name);
}

/** True when `version` is a valid package version (`X.Y.Z` with an optional `-pre`/`+build`). */
export function isValidPackageVersion(version: string): boolean {
  return VERSION_RE.test(version);
}

function comparePrerelease(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  // A release sorts after any of its prereleases.
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return Math.sign(d);
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/**
 * Semver-style ordering of two versions (for deterministic listings).
 * Strings that are not `X.Y.Z…` sort after real versions, by plain comparison.
 */
export function compareVersions(a: string, b: string): number {
  const ma = SEMVER_RE.exec(a);
  const mb = SEMVER_RE.exec(b);
  if (ma === null || mb === null) {
    if (ma !== null) return -1;
    if (mb !== null) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  for (let i = 1; i <= 3; i += 1) {
    const d = Number(ma[i]) - Number(mb[i]);
    if (d !== 0) return Math.sign(d);
  }
  const pre = comparePrerelease(ma[4], mb[4]);
  if (pre !== 0) return pre;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders `{name, version}` pairs by name, then version. */
export function comparePackageRefs(a: { name: string; version: string }, b: { name: string; version: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return compareVersions(a.version, b.version);
}
