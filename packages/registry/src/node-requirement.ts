/** Outcome of checking a `node.requires` range against the running Node.js. */
export type RequirementCheck = 'satisfied' | 'unsatisfied' | 'unknown';

const COMPARATOR_RE = /^(>=|<=|>|<|=)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;

type Triple = readonly [number, number, number];

function compare(a: Triple, b: Triple): number {
  for (let i = 0; i < 3; i += 1) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function satisfies(current: Triple, op: string, major: number, minor?: number, patch?: number): boolean {
  if (minor !== undefined && patch !== undefined) {
    const c = compare(current, [major, minor, patch]);
    if (op === '>=') return c >= 0;
    if (op === '>') return c > 0;
    if (op === '<') return c < 0;
    if (op === '<=') return c <= 0;
    return c === 0;
  }
  // A partial version is a span, as in npm: `20` = [20.0.0, 21.0.0), `20.3` = [20.3.0, 20.4.0).
  const low: Triple = [major, minor ?? 0, 0];
  const high: Triple = minor === undefined ? [major + 1, 0, 0] : [major, minor + 1, 0];
  if (op === '>=') return compare(current, low) >= 0;
  if (op === '>') return compare(current, high) >= 0;
  if (op === '<') return compare(current, low) < 0;
  if (op === '<=') return compare(current, high) < 0;
  return compare(current, low) >= 0 && compare(current, high) < 0;
}

/**
 * Checks the simple ranges packages actually write: space-separated
 * comparators such as `>=20`, `>=18.17 <23`, `=20.1.0`, `*`. Anything richer
 * (`^`, `~`, `||`, `x` wildcards, hyphen ranges) answers `unknown` rather
 * than guessing; the caller then installs without enforcing it.
 */
export function checkNodeRequirement(range: string, nodeVersion: string = process.versions.node): RequirementCheck {
  const parts = nodeVersion.replace(/^v/, '').split(/[.-]/).slice(0, 3).map((p) => Number.parseInt(p, 10));
  if (parts.length < 3 || parts.some((n) => Number.isNaN(n))) return 'unknown';
  const current: Triple = [parts[0]!, parts[1]!, parts[2]!];
  const comparators = range.trim().split(/\s+/).filter((c) => c !== '');
  if (comparators.length === 0) return 'unknown';
  let result: RequirementCheck = 'satisfied';
  for (const comparator of comparators) {
    if (comparator === '*') continue;
    const m = COMPARATOR_RE.exec(comparator);
    if (m === null) return 'unknown';
    const minor = m[3] === undefined ? undefined : Number(m[3]);
    const patch = m[4] === undefined ? undefined : Number(m[4]);
    if (!satisfies(current, m[1] ?? '=', Number(m[2]), minor, patch)) result = 'unsatisfied';
  }
  return result;
}
